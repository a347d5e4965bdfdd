"""The small object every built-in parameter mapper is: a name, an order and a map function."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from patchwire import MapCall


@attrs.frozen
class Mapper:
    name: str
    order: int
    apply: Callable[[MapCall], None] = attrs.field(repr=False)

    def map(self, call: MapCall) -> None:
        self.apply(call)
