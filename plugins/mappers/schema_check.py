"""The last mapper: every input must be one the model has, with a value its schema allows.

It runs after every other mapper and sees the pass-through parameters too, so nothing reaches the
network that the model would refuse with a 422 after a wait. An input the model lacks is dropped with a
warning when the call says ``drop_params=True``; ``prompt`` never is, and a wrong value never is.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from patchwire import BadRequestError, InputSpec, MapCall
from patchwire.plugins.mappers.base import Mapper
from patchwire.validation import show

log = logging.getLogger("patchwire")

_TYPES: dict[str, tuple[str, Any]] = {
    "integer": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "number": (
        "a number",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    ),
    "string": ("a string", lambda v: isinstance(v, str)),
    "boolean": ("true or false", lambda v: isinstance(v, bool)),
}


def check_value(model: object, spec: InputSpec, value: Any) -> None:
    name = spec.name
    kind = _TYPES.get(spec.type or "")
    if kind is not None and not kind[1](value):
        raise BadRequestError(f"{name} must be {kind[0]} for {model}, not {show(value)}", param=name)
    if spec.enum is not None and value not in spec.enum:
        allowed = ", ".join(repr(v) for v in spec.enum)
        raise BadRequestError(
            f"{name}={show(value)} is not allowed for {model}; use one of {allowed}", param=name
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = spec.minimum, spec.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = " and ".join(
                text
                for text in (
                    f">= {low:g}" if low is not None else "",
                    f"<= {high:g}" if high is not None else "",
                )
                if text
            )
            raise BadRequestError(
                f"{name}={show(value)} is out of range for {model}: it must be {bounds}", param=name
            )


def map_schema_check(call: MapCall) -> None:
    schema = call.schema
    if schema is None:
        return
    model = call.ref  # formatted into a message only when one is needed
    for source in (call.inputs, call.params):
        for name in list(source):
            spec = schema.inputs.get(name)
            if spec is not None:
                check_value(model, spec, source[name])
                continue
            if call.drop_params and name != "prompt":
                log.warning(
                    "patchwire: dropped %s: %s has no such input (drop_params=True)", show(name), model
                )
                del source[name]
                continue
            accepted = ", ".join(schema.names)
            raise BadRequestError(
                f"{model} has no input {show(name)}; it accepts: {accepted}. Remove it, or pass "
                "drop_params=True to drop parameters the model does not take",
                param=name,
            )
    missing = [name for name in schema.required if name not in call.inputs and name not in call.params]
    if missing:
        raise BadRequestError(
            f"{model} requires the input(s) {', '.join(missing)}; pass them as parameters",
            param=missing[0],
        )


SCHEMA_CHECK = Mapper(name="schema_check", order=1000, map=map_schema_check)
