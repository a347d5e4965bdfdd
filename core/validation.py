"""The call's parameters: OpenAI's are type-checked here, every other one is kept as given.

Parameters OpenAI's schema does not name (``seed``, ``top_k``, ``min_tokens``, ...) are collected
explicitly and reach the mappers untouched: nothing is dropped on the way (cattrs would drop unknown
keys without a word, which is why this is not done with the converter).
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Mapping
from typing import Any

from patchwire.errors import BadRequestError

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80


def show(value: Any) -> str:
    """A value for an error message: bounded in length and depth (a hostile value may be huge or
    nested thousands deep, where plain repr() raises RecursionError)."""
    return _short.repr(value)


def _number(lo: float | None = None, hi: float | None = None) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise BadRequestError(f"{name} must be a number, not {show(value)}", param=name)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise BadRequestError(f"{name} must be between {lo} and {hi}, not {show(value)}", param=name)

    return check


def _integer(lo: int | None = None) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequestError(f"{name} must be an integer, not {show(value)}", param=name)
        if lo is not None and value < lo:
            raise BadRequestError(f"{name} must be at least {lo}, not {show(value)}", param=name)

    return check


def _stop(name: str, value: Any) -> None:
    if isinstance(value, str):
        return
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return
    raise BadRequestError(f"{name} must be a string or a list of strings, not {show(value)}", param=name)


def _one_choice(name: str, value: Any) -> None:
    if value != 1:
        raise BadRequestError(
            f"{name}={show(value)}: only one choice per call is supported; make several calls",
            param=name,
        )


def _string(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise BadRequestError(f"{name} must be a string, not {show(value)}", param=name)


def _mapping(name: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{name} must be an object, not {show(value)}", param=name)


#: OpenAI chat-completion parameters patchwire understands, with their checks.
OPENAI_PARAMS: dict[str, Callable[[str, Any], None]] = {
    "max_tokens": _integer(1),
    "max_completion_tokens": _integer(1),
    "temperature": _number(0, 5),
    "top_p": _number(0, 1),
    "stop": _stop,
    "seed": _integer(),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "n": _one_choice,
    "user": _string,
    "stream_options": _mapping,
}

#: The parameters whose check is ``_integer(1)``: a plain int of 1 or more passes them.
_POSITIVE_INTS = frozenset(("max_tokens", "max_completion_tokens"))

#: OpenAI parameters a text-completion model cannot honour: refused unless ``drop_params=True``.
UNSUPPORTED = (
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "logprobs",
    "top_logprobs",
    "response_format",
    "logit_bias",
    "parallel_tool_calls",
)

#: Inputs patchwire makes itself: a parameter of that name would silently replace the formatted prompt.
BUILT_FROM_MESSAGES = ("prompt",)

#: Parameters that are about the call, not the model: never passed to a mapper.
CALL_ONLY = ("user", "stream_options", "n")


def check_params(params: Mapping[str, Any], *, drop_params: bool) -> dict[str, Any]:
    """Validated parameters for the mappers: OpenAI's checked, unsupported ones refused or dropped,
    every other one kept exactly as given."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value.__class__ is int and value >= 1 and name in _POSITIVE_INTS:
            out[name] = value  # the commonest parameter, max_tokens, passes its check at once
            continue
        if value is None:
            continue  # OpenAI clients send explicit nulls for "not set"
        check = OPENAI_PARAMS.get(name)
        if check is not None:
            check(name, value)
            if name in CALL_ONLY:
                continue
        elif name in BUILT_FROM_MESSAGES:
            raise BadRequestError(
                f"{name} is built from messages by the model's prompt format; pass the text as a "
                "message instead (format='default' sends a lone user message as written)",
                param=name,
            )
        elif name in UNSUPPORTED:
            if drop_params:
                continue
            raise BadRequestError(
                f"{name} is not supported for text-completion models; remove it, or pass "
                "drop_params=True to ignore it",
                param=name,
            )
        out[name] = value
    return out
