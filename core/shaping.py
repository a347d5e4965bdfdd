"""Placing a conversation among a model's inputs: the input shapers, then the prompt formatter.

Shapers (``patchwire_input_shapers``) read the model's schema and move what the model takes in its own
inputs (a ``messages`` array, a ``system_prompt``, images) there. Whatever conversation no shaper
placed is rendered by the model's prompt formatter into ``prompt``, exactly as for a model whose schema
is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from patchwire.interfaces import ShapeCall
from patchwire.types import InputSchema, Message

if TYPE_CHECKING:
    from patchwire.pipeline import Pipeline


def shape_inputs(
    pipeline: Pipeline, messages: Sequence[Message], schema: InputSchema | None, params: dict[str, Any]
) -> dict[str, Any]:
    """The model inputs the conversation becomes; ``params`` loses what a shaper consumed."""
    inputs: dict[str, Any] = {}
    formatter = pipeline.formatter
    if pipeline.shapers:
        call = ShapeCall(
            ref=pipeline.ref,
            schema=schema,
            messages=tuple(messages),
            params=params,
            inputs=inputs,
            formatter=formatter,
            format_chosen=pipeline.format_chosen,
        )
        for shaper in pipeline.shapers:
            shaper.shape(call)
        if call.placed:
            return inputs
        messages = call.messages
    if formatter is not None:
        inputs["prompt"] = formatter.render(messages)
    return inputs
