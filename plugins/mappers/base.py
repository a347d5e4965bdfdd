"""The small object every built-in parameter mapper is: a name, an order, the providers it serves
(``()`` for every provider), a map function and, for most, the ``prepare`` that map function comes from."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from patchwire import MapCall, ModelFacts

#: What a mapper built on Replicate's conventions serves.
REPLICATE = ("replicate",)

#: A mapper's ``prepare``: the function to run on each call to one model, or None for nothing.
Prepare = Callable[[ModelFacts], Callable[[MapCall], None] | None]


@attrs.frozen
class Mapper:
    name: str
    order: int
    #: The map function itself, called as ``mapper.map(call)`` (no method between: it runs per call).
    map: Callable[[MapCall], None] = attrs.field(repr=False)
    #: The providers whose calls it maps (``patchwire.interfaces.MapperExtras``); () = every provider.
    providers: tuple[str, ...] = ()
    #: ``MapperExtras.prepare``; None: ``map`` runs on every call.
    prepare: Prepare | None = attrs.field(default=None, repr=False)


def prepared_mapper(name: str, order: int, prepare: Prepare, providers: tuple[str, ...] = ()) -> Mapper:
    """A mapper whose work is done by what ``prepare`` returns for the call's model: a pipeline's plan
    prepares once per model, and ``map`` (for a caller without a plan) prepares on each call."""

    def map_call(call: MapCall) -> None:
        function = prepare(ModelFacts(call.ref, call.schema, call.formatter))
        if function is not None:
            function(call)

    return Mapper(name, order, map_call, providers, prepare)
