"""Provider parameters of one family reach the model under the name it has.

``min_tokens=2`` for a model whose schema says ``min_new_tokens`` arrives as ``min_new_tokens``;
``max_new_tokens`` for a model with ``max_length`` arrives as ``max_length``. Two names of one family
with different values are refused: the model would take one and ignore the other, or fail.
"""

from __future__ import annotations

from collections.abc import Callable

from patchwire import BadRequestError, MapCall, ModelFacts
from patchwire.plugins.mappers.base import REPLICATE, prepared_mapper
from patchwire.plugins.mappers.names import FAMILIES, family_name
from patchwire.validation import show


def prepare_aliases(model: ModelFacts) -> Callable[[MapCall], None] | None:
    """The families this model has a name for; None when it has none (every name passes through)."""
    # A name the caller chose is only renamed on evidence (the schema, or a rule for this model
    # family): for a model nobody knows, the caller's `max_length` is better than our guess.
    renames = []
    for family in FAMILIES:
        target = family_name(family, model.ref, model.schema, fallback=False)
        if target is not None:  # with none, the names pass through (schema_check judges them)
            renames.append((family, target))
    if not renames:
        return None
    names = frozenset(name for family, _ in renames for name in family)

    def map_aliases(call: MapCall) -> None:
        if names.isdisjoint(call.params):
            return
        for family, target in renames:
            for name in [name for name in family if name in call.params]:
                value = call.params.pop(name)
                if target in call.inputs and call.inputs[target] != value:
                    raise BadRequestError(
                        f"{name}={show(value)} and another length parameter ({target}="
                        f"{show(call.inputs[target])}) set the same input of {call.ref}; pass one of them",
                        param=name,
                    )
                call.inputs[target] = value

    return map_aliases


ALIASES = prepared_mapper("token_aliases", 200, prepare_aliases, REPLICATE)
