"""Keep a model from wrapping an already formatted prompt in its own template a second time.

Many Replicate models (the official Llama 3 and Mistral ones among them) put ``prompt`` into their
``prompt_template`` input, whose default holds the chat format and a ``{system_prompt}``. A chat
formatter's prompt is already complete, so where the model has that input this sends
``prompt_template: "{prompt}"``: the model then sees our prompt exactly, once, and its
``system_prompt`` input is unused (the system message is inside the prompt). The default format sets
``uses_model_template`` and keeps the model's template; so does a caller's own ``prompt_template=``.
"""

from __future__ import annotations

from patchwire import MapCall
from patchwire.interfaces import uses_model_template
from patchwire.plugins.mappers.base import REPLICATE, Mapper
from patchwire.plugins.mappers.names import matches

PASS_THROUGH = "{prompt}"
#: Without a schema: models known to have a ``prompt_template`` input.
TEMPLATE_MODELS = ("meta/meta-llama-3*", "mistralai/*-instruct*")


def map_prompt_template(call: MapCall) -> None:
    formatter = call.formatter
    if formatter is None or uses_model_template(formatter):
        return
    if "prompt_template" in call.params or "prompt_template" in call.inputs:
        return
    has_template = (
        "prompt_template" in call.schema if call.schema is not None else matches(call.ref, TEMPLATE_MODELS)
    )
    if has_template:
        call.inputs["prompt_template"] = PASS_THROUGH


PROMPT_TEMPLATE = Mapper(name="prompt_template", order=300, map=map_prompt_template, providers=REPLICATE)
