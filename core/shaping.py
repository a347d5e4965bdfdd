"""Placing a conversation among a model's inputs: the input shapers, then the prompt formatter.

Shapers (``patchwire_input_shapers``) read the model's schema and move what the model takes in its own
inputs (a ``messages`` array, a ``system_prompt``, images) there. Whatever conversation no shaper
placed is rendered by the model's prompt formatter into ``prompt``, exactly as for a model whose schema
is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from patchwire.interfaces import MapCall, ShapeCall
from patchwire.types import ChatRequest, InputSchema, Message

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
        inputs["prompt"] = pipeline.render(messages)
    return inputs


def build_inputs(pipeline: Pipeline, request: ChatRequest, schema: InputSchema | None) -> dict[str, Any]:
    """Every input the call sends: the conversation placed by the shapers (and the formatter), then
    the parameters mapped; whatever no mapper consumed passes through under its own name."""
    params = dict(request.params)
    inputs = shape_inputs(pipeline, request.messages, schema, params)
    mapping = MapCall(
        ref=pipeline.ref,
        schema=schema,
        params=params,
        inputs=inputs,
        drop_params=request.drop_params,
        formatter=pipeline.formatter,
    )
    for mapper in pipeline.mappers:
        mapper.map(mapping)
    inputs.update(mapping.params)
    return inputs
