"""The small object every built-in input shaper is: a name, an order, a shape function, the providers
it serves (the built-ins know Replicate's input conventions) and the ``prepare`` its shape function
comes from."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from patchwire import BadRequestError, Message, ModelFacts, ShapeCall

#: What a shaper built on Replicate's input conventions serves.
REPLICATE = ("replicate",)

#: A shaper's ``prepare``: the function to run on each call to one model, or None for nothing.
Prepare = Callable[[ModelFacts], Callable[[ShapeCall], None] | None]


@attrs.frozen
class Shaper:
    name: str
    order: int
    #: The shape function itself, called as ``shaper.shape(call)`` (no method between: it runs per call).
    shape: Callable[[ShapeCall], None] = attrs.field(repr=False)
    #: The providers whose calls it shapes; () = every provider.
    providers: tuple[str, ...] = REPLICATE
    #: ``MapperExtras.prepare`` (shapers have it too); None: ``shape`` runs on every call.
    prepare: Prepare | None = attrs.field(default=None, repr=False)


def prepared_shaper(name: str, order: int, prepare: Prepare) -> Shaper:
    """A shaper whose work is done by what ``prepare`` returns for the call's model (see
    ``mappers.base.prepared_mapper``)."""

    def shape_call(call: ShapeCall) -> None:
        function = prepare(ModelFacts(call.ref, call.schema, call.formatter, call.format_chosen))
        if function is not None:
            function(call)

    return Shaper(name, order, shape_call, REPLICATE, prepare)


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
