"""Provider parameters of one family reach the model under the name it has.

``min_tokens=2`` for a model whose schema says ``min_new_tokens`` arrives as ``min_new_tokens``;
``max_new_tokens`` for a model with ``max_length`` arrives as ``max_length``. Two names of one family
with different values are refused: the model would take one and ignore the other, or fail.
"""

from __future__ import annotations

from patchwire import BadRequestError, MapCall
from patchwire.plugins.mappers.base import REPLICATE, Mapper
from patchwire.plugins.mappers.names import FAMILIES, family_name
from patchwire.validation import show


def map_aliases(call: MapCall) -> None:
    for family in FAMILIES:
        given = [name for name in family if name in call.params]
        if not given:
            continue
        # A name the caller chose is only renamed on evidence (the schema, or a rule for this model
        # family): for a model nobody knows, the caller's `max_length` is better than our guess.
        target = family_name(family, call.ref, call.schema, fallback=False)
        if target is None:
            continue  # no rule, no schema entry: pass through (schema_check judges it)
        for name in given:
            value = call.params.pop(name)
            if target in call.inputs and call.inputs[target] != value:
                raise BadRequestError(
                    f"{name}={show(value)} and another length parameter ({target}="
                    f"{show(call.inputs[target])}) set the same input of {call.ref}; pass one of them",
                    param=name,
                )
            call.inputs[target] = value


ALIASES = Mapper(name="token_aliases", order=200, map=map_aliases, providers=REPLICATE)
