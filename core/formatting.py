"""Prompt formatting in the core: the public text helpers formatter authors use, the core's own choice
of a formatter by name or by model pattern, and the ``raw`` format text completions use.

``text_of`` and ``message_texts`` (also ``patchwire.text_of`` / ``patchwire.message_texts``) read a
message's text for a text-only prompt format and refuse image or other parts with a ``BadRequestError``
that names the message and the format, rather than dropping them without a word.

The chooser is registered first, so every plugin's ``patchwire_choose_formatter`` is asked before this
one; a fallback plugin marked ``trylast`` answers for models no pattern claims.
"""

from __future__ import annotations

from collections.abc import Sequence

from patchwire.errors import BadRequestError
from patchwire.hookspecs import hookimpl
from patchwire.interfaces import PromptFormatter, formatter_matches
from patchwire.types import Message, ModelRef
from patchwire.validation import show


def text_of(message: Message, index: int, format_name: str) -> str:
    """The text of ``message`` (its text parts joined), which is ``messages[index]`` of the call; a part
    that is not text (an image) is a ``BadRequestError`` saying that ``format_name`` takes text only."""
    content = message.content
    if content.__class__ is str:
        return content
    if isinstance(content, tuple):
        for part in content:
            if part.type != "text":
                raise BadRequestError(
                    f"messages[{index}] has a {show(part.type)} content part, but the {format_name!r} "
                    "prompt format is text-only; send text parts only, or use a model that takes "
                    "images through its own inputs",
                    param=f"messages[{index}].content",
                )
    return message.text


def message_texts(messages: Sequence[Message], format_name: str) -> list[tuple[str, str]]:
    """``(role, text)`` for each message, each read by ``text_of``."""
    return [(m.role, text_of(m, i, format_name)) for i, m in enumerate(messages)]


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
        return text_of(messages[0], 0, RAW)


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
            f"unknown prompt format {show(requested)}; available formats: {names}. For a format of your own "
            f"call patchwire.register_prompt_template(model={str(ref)!r}, roles={{...}}) (or give "
            "roles/initial_prompt_value/... for the model in the proxy config), then call without format=",
            param="format",
        )
    for formatter in formatters:
        if formatter_matches(formatter, ref):
            return formatter
    return None
