"""A prediction's ``output`` as text: every shape a language model on Replicate returns, or a clear error.

Language models return a list of strings (Cog's token iterator, joined with nothing between), a single
string (Gemma 3, DeepSeek-VL2, Qwen-VL), or nothing (an empty list, ``null``, ``""``). Anything else
(numbers, nested lists, ``null`` items, objects) is not text: it is reported as a ``ProviderError``
that names what came back, never turned into a string the caller would mistake for an answer.
"""

from __future__ import annotations

from typing import Any

from patchwire.errors import ProviderError
from patchwire.validation import show


def not_text(output: Any, label: str, prediction_id: str | None) -> ProviderError:
    what = _describe(output)
    return ProviderError(
        f"{label}: prediction {prediction_id or '?'} returned {what}, not text; patchwire reads "
        "language-model output (a string or a list of strings). Use Replicate's API directly for "
        "models with other outputs",
        provider="replicate",
        prediction_id=prediction_id,
        code="output_not_text",
    )


def _describe(output: Any) -> str:
    if isinstance(output, list):
        bad = next((item for item in output if not isinstance(item, str)), None)
        kind = "null" if bad is None else type(bad).__name__
        return f"a list holding {kind} items ({show(output)})"
    if isinstance(output, dict):
        return f"an object ({show(output)})"
    return f"{type(output).__name__} {show(output)}"


def output_pieces(output: Any, label: str, prediction_id: str | None) -> list[str]:
    """The output as its text pieces, in order (one piece for a single-string output)."""
    if output is None:
        return []
    if output.__class__ is str:
        return [output] if output else []
    if output.__class__ is list:
        for item in output:
            if item.__class__ is not str:
                raise not_text(output, label, prediction_id)
        return output
    raise not_text(output, label, prediction_id)


def output_text(output: Any, label: str, prediction_id: str | None) -> str:
    """The whole output as one string."""
    cls = output.__class__
    if cls is str:
        return str(output)
    if cls is list:
        try:
            return "".join(output)  # strings only: anything else raises, and is named below
        except TypeError:
            pass
    return "".join(output_pieces(output, label, prediction_id))


def text_items(items: list[Any], label: str, prediction_id: str | None) -> list[str]:
    """New items of a list output read by polling: each must be a string."""
    for item in items:
        if item.__class__ is not str:
            raise not_text(items, label, prediction_id)
    return items
