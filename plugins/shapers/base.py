"""The small object every built-in input shaper is: a name, an order, a shape function and the
providers it serves (the built-ins know Replicate's input conventions)."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from patchwire import BadRequestError, Message, ShapeCall

#: What a shaper built on Replicate's input conventions serves.
REPLICATE = ("replicate",)


@attrs.frozen
class Shaper:
    name: str
    order: int
    #: The shape function itself, called as ``shaper.shape(call)`` (no method between: it runs per call).
    shape: Callable[[ShapeCall], None] = attrs.field(repr=False)
    #: The providers whose calls it shapes; () = every provider.
    providers: tuple[str, ...] = REPLICATE


def plain_text(message: Message, index: int, model: str) -> str:
    """A message's text parts, joined as ``Message.text`` joins them; other parts are refused."""
    content = message.content
    if isinstance(content, tuple):
        for part in content:
            if part.type != "text":
                raise BadRequestError(
                    f"messages[{index}] has a {part.type!r} content part, which {model} takes no "
                    "input for; send text (and image_url parts, for a model with an image input)",
                    param=f"messages[{index}].content",
                )
    return message.text
