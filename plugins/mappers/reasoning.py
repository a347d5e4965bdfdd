"""OpenAI's ``reasoning_effort`` -> the model's own reasoning control, read from its schema.

Reasoning models on Replicate take one of:

- a level: ``reasoning_effort`` (GPT-5, o-series), ``effort``, ``thinking_level`` (Gemini 3), or a
  ``thinking`` enum: the effort is mapped onto the values the model allows (its enum, read through
  ``allOf``/``$ref`` too) — the same value where it has it, else the nearest on the scale
  none < minimal < low < medium < high < xhigh (a tie goes to the higher);
- a switch: ``thinking`` or ``extended_thinking`` (Claude), true unless the effort is ``none``, with
  a thinking budget where the model has one;
- a budget: ``thinking_budget_tokens`` or ``thinking_budget`` (Gemini 2.5): ``none`` -> 0 (where
  allowed), else low 1024, medium 2048, high 4096 tokens (minimal 512, xhigh 8192; LiteLLM's
  figures), kept within the input's bounds, and for a switch below the output's token limit (the
  budget counts toward it).

A value outside OpenAI's scale (and not one the model lists) is refused; so is ``reasoning_effort``
for a model with no reasoning control (unless ``drop_params=True``).
"""

from __future__ import annotations

import logging
from typing import Any

from patchwire import BadRequestError, InputSchema, InputSpec, MapCall
from patchwire.plugins.mappers.base import REPLICATE, Mapper
from patchwire.plugins.mappers.names import MAX_TOKENS

log = logging.getLogger("patchwire")

PARAM = "reasoning_effort"
SCALE = ("none", "minimal", "low", "medium", "high", "xhigh")
BUDGETS = {"minimal": 512, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192}
LEVEL_INPUTS = ("reasoning_effort", "effort", "thinking_level", "thinking")
SWITCH_INPUTS = ("extended_thinking", "thinking", "enable_thinking")
BUDGET_INPUTS = ("thinking_budget_tokens", "thinking_budget", "budget_tokens")
_ON = ("enabled", "on", "true", "yes")
_OFF = ("disabled", "off", "false", "no")


def _spec(schema: InputSchema, names: tuple[str, ...], types: tuple[str | None, ...]) -> InputSpec | None:
    for name in names:
        spec = schema.inputs.get(name)
        if spec is not None and spec.type in types:
            return spec
    return None


def nearest(effort: str, allowed: tuple[Any, ...]) -> Any | None:
    """The allowed level closest to ``effort`` on the scale (ties: the higher), or None."""
    if effort in allowed:
        return effort
    target = SCALE.index(effort)
    ranked = [(abs(SCALE.index(v) - target), -SCALE.index(v), v) for v in allowed if v in SCALE]
    return min(ranked)[2] if ranked else None


def _level(model: str, spec: InputSpec, effort: str) -> Any:
    if spec.enum is None or effort in spec.enum:
        return effort
    value = nearest(effort, spec.enum) if effort in SCALE else None
    if value is None:
        switch = _OFF if effort == "none" else _ON
        value = next((v for v in spec.enum if isinstance(v, str) and v.lower() in switch), None)
    if value is None:
        raise BadRequestError(
            f"{PARAM}={effort!r} has no counterpart among {model}'s {spec.name} values "
            f"({', '.join(map(repr, spec.enum))}); pass {spec.name}= with one of them instead",
            param=PARAM,
        )
    return value


def _budget(spec: InputSpec, effort: str) -> int:
    low = int(spec.minimum) if spec.minimum is not None else None
    high = int(spec.maximum) if spec.maximum is not None else None
    if effort == "none":
        return 0 if low is None or low <= 0 else low
    budget = BUDGETS[effort]
    if low is not None:
        budget = max(budget, low)
    if high is not None:
        budget = min(budget, high)
    return budget


def _set(call: MapCall, name: str, value: Any) -> None:
    if name in call.params or name in call.inputs:
        raise BadRequestError(
            f"{PARAM} and {name} both set {call.ref}'s reasoning; pass one of them", param=name
        )
    call.inputs[name] = value


def map_reasoning(call: MapCall) -> None:
    if PARAM not in call.params:
        return
    effort = call.params[PARAM]
    schema = call.schema
    level = schema.inputs.get(PARAM) if schema is not None else None
    known = effort in SCALE or (level is not None and level.enum is not None and effort in level.enum)
    if not isinstance(effort, str) or not known:
        raise BadRequestError(
            f"{PARAM}={effort!r} is not a reasoning effort; use one of {', '.join(SCALE)}",
            param=PARAM,
        )
    if schema is None:
        return  # passes through as it is: the model's schema could not be read
    model = str(call.ref)
    del call.params[PARAM]
    spec = _spec(schema, LEVEL_INPUTS, ("string", None))
    if spec is not None and (spec.enum is not None or spec.name != "thinking"):
        _set(call, spec.name, _level(model, spec, effort))
        return
    switch = _spec(schema, SWITCH_INPUTS, ("boolean",))
    budget = _spec(schema, BUDGET_INPUTS, ("integer", "number", None))
    if switch is None and budget is None:
        if call.drop_params:
            log.warning("patchwire: dropped %s: %s has no reasoning control (drop_params=True)", PARAM, model)
            return
        raise BadRequestError(
            f"{model} has no reasoning control (its inputs are {', '.join(schema.names)}); remove "
            f"{PARAM}, or pass drop_params=True to drop parameters the model does not take",
            param=PARAM,
        )
    if switch is not None:
        _set(call, switch.name, effort != "none")
        if effort == "none":
            return  # no budget for thinking that is off: the model's default stays
    if budget is not None:
        value = _budget(budget, effort)
        if switch is not None and effort != "none":
            value = _within_output(call, schema, budget, value)
        _set(call, budget.name, value)


def _within_output(call: MapCall, schema: InputSchema, budget: InputSpec, value: int) -> int:
    """A thinking budget counts toward the output, so it must stay below the output's limit (Claude
    fails a prediction whose budget is not): lowered to fit, or refused when even its minimum does not."""
    limit_spec = _spec(schema, MAX_TOKENS, ("integer", None))
    if limit_spec is None:
        return value
    limit = call.inputs.get(limit_spec.name, call.params.get(limit_spec.name, limit_spec.default))
    if not isinstance(limit, int) or isinstance(limit, bool) or value < limit:
        return value
    lowest = int(budget.minimum) if budget.minimum is not None else 1
    if limit - 1 < lowest:
        raise BadRequestError(
            f"{PARAM} turns on {call.ref}'s thinking, whose budget ({budget.name}) is at least "
            f"{lowest} tokens and must stay below {limit_spec.name}={limit}; raise {limit_spec.name} "
            f"above {lowest}, or pass {PARAM}='none'",
            param=PARAM,
        )
    return limit - 1


REASONING = Mapper(name="reasoning", order=150, map=map_reasoning, providers=REPLICATE)
