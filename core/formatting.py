"""The core's own hook implementations: choosing a prompt formatter by name or by model pattern, and
the ``raw`` format text completions use.

Registered first, so every plugin's ``patchwire_choose_formatter`` is asked before this one; a fallback
plugin marked ``trylast`` answers for models no pattern claims.
"""

from __future__ import annotations

from collections.abc import Sequence

from patchwire.errors import BadRequestError
from patchwire.hookspecs import hookimpl
from patchwire.interfaces import PromptFormatter, formatter_matches
from patchwire.types import Message, ModelRef

#: The format that sends one user message's text as written (text completions use it).
RAW = "raw"


class RawFormatter:
    """``format="raw"``: the text of one user message, exactly as written, and no model template
    around it (the ``prompt_template`` mapper sends ``"{prompt}"`` where the model has one)."""

    name = RAW
    models: tuple[str, ...] = ()  # chosen by name only
    uses_model_template = False

    def render(self, messages: Sequence[Message]) -> str:
        if len(messages) != 1 or messages[0].role != "user":
            raise BadRequestError(
                f"the {RAW!r} format sends one user message as written, and this call has "
                f"{len(messages)} message(s); send one user message, or choose a chat format",
                param="messages",
            )
        (message,) = messages
        if isinstance(message.content, tuple) and any(p.type != "text" for p in message.content):
            raise BadRequestError(
                f"the {RAW!r} format is text-only; send text parts only", param="messages[0].content"
            )
        return message.text


RAW_FORMATTER = RawFormatter()


@hookimpl
def patchwire_formatters() -> list[PromptFormatter]:
    return [RAW_FORMATTER]


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
            f"unknown prompt format {requested!r}; available formats: {names}", param="format"
        )
    for formatter in formatters:
        if formatter_matches(formatter, ref):
            return formatter
    return None
