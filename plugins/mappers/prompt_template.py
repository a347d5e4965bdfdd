"""Keep a model from wrapping an already formatted prompt in its own template a second time.

Many Replicate models (the official Llama 3 and Mistral ones among them) put ``prompt`` into their
``prompt_template`` input, whose default holds the chat format and a ``{system_prompt}``. A chat
formatter's prompt is already complete, so where the model has that input this sends
``prompt_template: "{prompt}"``: the model then sees our prompt exactly, once, and its
``system_prompt`` input is unused (the system message is inside the prompt). The default format sets
``uses_model_template`` and keeps the model's template; so does a caller's own ``prompt_template=``.
"""

from __future__ import annotations

from collections.abc import Callable

from patchwire import MapCall, ModelFacts
from patchwire.interfaces import uses_model_template
from patchwire.plugins.mappers.base import REPLICATE, prepared_mapper
from patchwire.plugins.mappers.names import matches

PASS_THROUGH = "{prompt}"
#: Without a schema: models known to have a ``prompt_template`` input.
TEMPLATE_MODELS = ("meta/meta-llama-3*", "mistralai/*-instruct*")


def prepare_prompt_template(model: ModelFacts) -> Callable[[MapCall], None] | None:
    """None unless a chat formatter renders the prompt of a model with a ``prompt_template`` input."""
    formatter = model.formatter
    if formatter is None or uses_model_template(formatter):
        return None
    schema = model.schema
    if not ("prompt_template" in schema if schema is not None else matches(model.ref, TEMPLATE_MODELS)):
        return None
    return _pass_prompt_through


def _pass_prompt_through(call: MapCall) -> None:
    if "prompt_template" not in call.params and "prompt_template" not in call.inputs:
        call.inputs["prompt_template"] = PASS_THROUGH  # a caller's own template is kept


PROMPT_TEMPLATE = prepared_mapper("prompt_template", 300, prepare_prompt_template, REPLICATE)
