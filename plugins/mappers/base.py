"""The small object every built-in parameter mapper is: a name, an order, the providers it serves
(``()`` for every provider) and a map function."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from patchwire import MapCall

#: What a mapper built on Replicate's conventions serves.
REPLICATE = ("replicate",)


@attrs.frozen
class Mapper:
    name: str
    order: int
    #: The map function itself, called as ``mapper.map(call)`` (no method between: it runs per call).
    map: Callable[[MapCall], None] = attrs.field(repr=False)
    #: The providers whose calls it maps (``patchwire.interfaces.MapperExtras``); () = every provider.
    providers: tuple[str, ...] = ()
