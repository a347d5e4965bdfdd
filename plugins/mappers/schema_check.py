"""The last mapper: every input must be one the model has, with a value its schema allows.

It runs after every other mapper and sees the pass-through parameters too, so nothing reaches the
network that the model would refuse with a 422 after a wait. An input the model lacks is dropped with a
warning when the call says ``drop_params=True``; ``prompt`` never is, and a wrong value never is.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

from patchwire import BadRequestError, InputSpec, MapCall, ModelFacts
from patchwire.plugins.mappers.base import prepared_mapper
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


def value_check(model: object, spec: InputSpec) -> Callable[[Any], None]:
    """``check_value`` for one input, with what does not apply to it left out (it runs per call)."""
    if spec.enum is None:
        if spec.type in ("integer", "number"):
            low, high = _bounds(spec)
            floats = spec.type == "number"
            return functools.partial(_check_number, model, spec, floats, low, high)
        if spec.type not in _TYPES and spec.minimum is None and spec.maximum is None:
            return _accept
    return functools.partial(check_value, model, spec)


def _bounds(spec: InputSpec) -> tuple[float, float]:
    """A number input's bounds, unbounded where its schema gives none."""
    low = -math.inf if spec.minimum is None else spec.minimum
    return low, math.inf if spec.maximum is None else spec.maximum


def _check_number(model: object, spec: InputSpec, floats: bool, low: float, high: float, value: Any) -> None:
    # The common case, a number of the right type within bounds, passes at once; anything else (a
    # bool, a NaN, an infinity, a subclass, out of bounds) is judged and worded by the general check.
    kind = value.__class__
    if (kind is int or (floats and kind is float and math.isfinite(value))) and low <= value <= high:
        return
    check_value(model, spec, value)


def _accept(value: Any) -> None:
    pass


def prepare_schema_check(model: ModelFacts) -> Callable[[MapCall], None] | None:
    """Each input's check, built once from the schema; None when the model's schema is unknown."""
    schema = model.schema
    if schema is None:
        return None
    ref = model.ref  # formatted into a message only when one is needed
    checks = {name: value_check(ref, spec) for name, spec in schema.inputs.items()}
    required = tuple(schema.required)
    strings = frozenset(
        name
        for name, spec in schema.inputs.items()
        if spec.type == "string" and spec.enum is None and spec.minimum is None and spec.maximum is None
    )
    # Bounds of the number inputs without an enum: an int within them passes with no call.
    int_bounds = {
        name: _bounds(spec)
        for name, spec in schema.inputs.items()
        if spec.type in ("integer", "number") and spec.enum is None
    }

    def map_schema_check(call: MapCall) -> None:
        for source in (call.inputs, call.params) if call.params else (call.inputs,):
            # Copied only when unknown names may be dropped from it on the way.
            for name, value in list(source.items()) if call.drop_params else source.items():
                kind = value.__class__
                if kind is str and name in strings:
                    continue  # the commonest input, a string where any string goes, passes at once
                if kind is int and name in int_bounds:
                    low, high = int_bounds[name]
                    if low <= value <= high:
                        continue
                check = checks.get(name)
                if check is not None:
                    check(value)
                    continue
                if call.drop_params and name != "prompt":
                    log.warning(
                        "patchwire: dropped %s: %s has no such input (drop_params=True)", show(name), ref
                    )
                    del source[name]
                    continue
                accepted = ", ".join(schema.names)
                raise BadRequestError(
                    f"{ref} has no input {show(name)}; it accepts: {accepted}. Remove it, or pass "
                    "drop_params=True to drop parameters the model does not take",
                    param=name,
                )
        for needed in required:
            if needed not in call.inputs and needed not in call.params:
                missing = [name for name in required if name not in call.inputs and name not in call.params]
                raise BadRequestError(
                    f"{ref} requires the input(s) {', '.join(missing)}; pass them as parameters",
                    param=missing[0],
                )

    return map_schema_check


SCHEMA_CHECK = prepared_mapper("schema_check", 1000, prepare_schema_check)
