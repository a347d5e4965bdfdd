"""What every built-in prompt formatter shares: the formatter object and reading a message's text.

A formatter here is a name, the model patterns it claims and a render function; the core only needs
those (``patchwire.PromptFormatter``), so third parties need none of this module: the text helpers
are public in the core as ``patchwire.text_of`` and ``patchwire.message_texts``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from patchwire import Message, message_texts, text_of


@attrs.frozen
class Formatter:
    """A prompt formatter: ``render(messages)`` turns the conversation into one prompt.

    ``uses_model_template`` is read by the built-in ``prompt_template`` mapper: False (every chat
    format) means the prompt is complete, so a model's own ``prompt_template`` is replaced by
    ``"{prompt}"``; True (the default format) means the model's template should still wrap it.
    """

    name: str
    models: tuple[str, ...]
    #: The render function itself, called as ``formatter.render(messages)`` (no method between: it
    #: runs per call).
    render: Callable[[Sequence[Message]], str] = attrs.field(repr=False)
    uses_model_template: bool = False
    #: Send the first system message as the model's ``system_prompt`` input (the input shaper of that
    #: name reads this), not in the prompt.
    supports_system_prompt: bool = False


#: The public helper ``patchwire.message_texts`` under the name the built-in formatters use.
texts = message_texts

__all__ = ["Formatter", "text_of", "texts"]
