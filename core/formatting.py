"""The core's own hook implementation: choosing a prompt formatter by name or by model pattern.

Registered first, so every plugin's ``patchwire_choose_formatter`` is asked before this one; a fallback
plugin marked ``trylast`` answers for models no pattern claims.
"""

from __future__ import annotations

from collections.abc import Sequence

from patchwire.errors import BadRequestError
from patchwire.hookspecs import hookimpl
from patchwire.interfaces import PromptFormatter, formatter_matches
from patchwire.types import ModelRef
from patchwire.validation import show


@hookimpl
def patchwire_choose_formatter(
    ref: ModelRef, requested: str | None, formatters: Sequence[PromptFormatter]
) -> PromptFormatter | None:
    if requested is not None:
        for formatter in formatters:
            if formatter.name == requested:
                return formatter
        names = ", ".join(sorted({f.name for f in formatters})) or "(none loaded)"
        raise BadRequestError(
            f"unknown prompt format {show(requested)}; available formats: {names}", param="format"
        )
    for formatter in formatters:
        if formatter_matches(formatter, ref):
            return formatter
    return None
