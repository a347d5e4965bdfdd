"""What every built-in prompt formatter shares: the formatter object and reading a message's text.

A formatter here is a name, the model patterns it claims and a render function; the core only needs
those three attributes (``patchwire.PromptFormatter``), so third parties need none of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from patchwire import BadRequestError, Message
from patchwire.validation import show


@attrs.frozen
class Formatter:
    """A prompt formatter: ``render(messages)`` turns the conversation into one prompt with ``renderer``.

    ``uses_model_template`` is read by the built-in ``prompt_template`` mapper: False (every chat
    format) means the prompt is complete, so a model's own ``prompt_template`` is replaced by
    ``"{prompt}"``; True (the default format) means the model's template should still wrap it.
    """

    name: str
    models: tuple[str, ...]
    renderer: Callable[[Sequence[Message]], str] = attrs.field(repr=False)
    uses_model_template: bool = False
    #: The renderer leaves the first system message out (it goes to the model's ``system_prompt``).
    supports_system_prompt: bool = False

    def render(self, messages: Sequence[Message]) -> str:
        return self.renderer(messages)


def text_of(message: Message, index: int, format_name: str) -> str:
    """The message's text (text parts joined); non-text parts are refused, never silently dropped."""
    content = message.content
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


def texts(messages: Sequence[Message], format_name: str) -> list[tuple[str, str]]:
    """``(role, text)`` for each message, checked by ``text_of``."""
    return [(m.role, text_of(m, i, format_name)) for i, m in enumerate(messages)]
