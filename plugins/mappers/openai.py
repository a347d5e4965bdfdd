"""OpenAI parameters -> model inputs, and the plugin that contributes every built-in mapper.

The built-in mappers run in this order (a mapper sees what the earlier ones built; see
``patchwire.ParamMapper`` for ties). The first four know Replicate's conventions and serve only the
``replicate`` provider; for any other provider the parameters pass through under their OpenAI names.

=====  ==================  ===========  ==========================================================
order  name                serves       what it does
=====  ==================  ===========  ==========================================================
100    ``openai``          replicate    ``max_tokens``/``max_completion_tokens`` -> the model's
                                        length input (within its bounds), ``stop`` ->
                                        ``stop_sequences`` (comma-joined), ``temperature``,
                                        ``top_p``, ``seed``, ``presence_penalty``,
                                        ``frequency_penalty``
150    ``reasoning``       replicate    ``reasoning_effort`` -> the model's reasoning control
                                        (level, switch, budget; see ``reasoning.py``)
200    ``token_aliases``   replicate    provider names of one family (``min_tokens``/
                                        ``min_new_tokens``, ``max_new_tokens``/``max_length``) ->
                                        the name the model has
300    ``prompt_template`` replicate    ``prompt_template: "{prompt}"`` where the model would wrap
                                        our prompt
1000   ``schema_check``    every one    refuses inputs the model lacks and values outside its
                                        schema (for any provider that gives a schema)
=====  ==================  ===========  ==========================================================

A parameter a mapper leaves in ``call.params`` passes through under its own name (``top_k``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import patchwire
from patchwire import BadRequestError, InputSchema, MapCall, ModelFacts
from patchwire.plugins.mappers.aliases import ALIASES
from patchwire.plugins.mappers.base import REPLICATE, Mapper, prepared_mapper
from patchwire.plugins.mappers.names import MAX_TOKENS, family_name
from patchwire.plugins.mappers.prompt_template import PROMPT_TEMPLATE
from patchwire.plugins.mappers.reasoning import REASONING
from patchwire.plugins.mappers.schema_check import SCHEMA_CHECK
from patchwire.validation import show

#: OpenAI parameters that keep their name on Replicate models.
SAME_NAME = ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty")
STOP_INPUTS = ("stop_sequences", "stop")


def _max_tokens(call: MapCall, target: str | None) -> None:
    params = call.params
    given = {k: params[k] for k in ("max_tokens", "max_completion_tokens") if k in params}
    if len(given) > 1 and len(set(given.values())) > 1:
        raise BadRequestError(
            f"max_tokens={given['max_tokens']} and max_completion_tokens="
            f"{given['max_completion_tokens']} disagree; pass one of them",
            param="max_tokens",
        )
    if target is None:
        return  # the model has no length input: schema_check reports it (or drops it)
    value = next(iter(given.values()))
    if call.schema is not None:
        _check_bounds(call, next(iter(given)), value, target)
    for key in given:
        del params[key]
    call.inputs[target] = value


def _check_bounds(call: MapCall, param: str, value: int, target: str) -> None:
    """A length outside the model's bounds is refused here, naming the bound and the input it
    reaches (the model would refuse it after a wait, or a caller would not know which name)."""
    assert call.schema is not None
    spec = call.schema.inputs[target]
    low, high = spec.minimum, spec.maximum
    if (low is None or value >= low) and (high is None or value <= high):
        return
    bounds = " and ".join(
        text
        for text in (f">= {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else "")
        if text
    )
    sent_as = "" if param == target else f" (sent as its {target} input)"
    raise BadRequestError(
        f"{param}={value} is out of range for {call.ref}{sent_as}: it must be {bounds}", param=param
    )


def stop_sequences(value: Any) -> str:
    """OpenAI's ``stop`` as the comma-separated string Replicate's LLMs read (not a list)."""
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if "," in item:
            raise BadRequestError(
                f"stop sequence {show(item)} contains a comma, which Replicate models read as a "
                "separator between sequences; use sequences without commas",
                param="stop",
            )
    return ",".join(item for item in items if item)


def _stop(call: MapCall, target: str) -> None:
    value = call.params.pop("stop")
    if target == "stop":
        call.inputs["stop"] = value
        return
    joined = stop_sequences(value)
    if joined:
        call.inputs[target] = joined


def _bounds(schema: InputSchema | None, length: str | None) -> tuple[float, float]:
    """The bounds of the model's length input (none known: any length passes here)."""
    spec = schema.inputs.get(length) if schema is not None and length is not None else None
    low = spec.minimum if spec is not None and spec.minimum is not None else -math.inf
    high = spec.maximum if spec is not None and spec.maximum is not None else math.inf
    return low, high


def prepare_openai(model: ModelFacts) -> Callable[[MapCall], None]:
    """The model's names for the length, the stop sequences and the sampling inputs, looked up once."""
    schema = model.schema
    length = family_name(MAX_TOKENS, model.ref, schema)
    stop = next((name for name in STOP_INPUTS if schema is None or name in schema), None)
    same_name = tuple(name for name in SAME_NAME if schema is None or name in schema)

    low, high = _bounds(schema, length)

    def map_openai(call: MapCall) -> None:
        params = call.params
        if "max_tokens" in params or "max_completion_tokens" in params:
            value: int = params.get("max_tokens", 0)
            if (
                value
                and length is not None
                and "max_completion_tokens" not in params
                and low <= value <= high
            ):
                del params["max_tokens"]  # the common case: one length, within the model's bounds
                call.inputs[length] = value
            else:
                _max_tokens(call, length)
            if not params:
                return
        if stop is not None and "stop" in params:  # without one, schema_check reports it
            _stop(call, stop)
        for name in same_name:
            if name in params:
                call.inputs[name] = params.pop(name)

    return map_openai


OPENAI = prepared_mapper("openai", 100, prepare_openai, REPLICATE)


@patchwire.hookimpl
def patchwire_param_mappers() -> list[Mapper]:
    return [OPENAI, REASONING, ALIASES, PROMPT_TEMPLATE, SCHEMA_CHECK]
