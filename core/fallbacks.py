"""Which failures another deployment or model can fix, and the order candidates are tried in.

A call is tried on the deployments of the model it names (several routes under one alias), then on each
of its fallbacks in turn. A candidate is skipped while it cools down (see ``patchwire.cooldowns``); if
every one is cooling, the one that failed least recently is still tried rather than failing with
nothing tried.

What moves a call on: a rate limit or a 5xx that outlasted the retries, a timeout, the model missing.
What never does: the caller's own mistakes (400, 401), a prediction that ran and failed, and a create
whose outcome is unknown (``UnknownOutcomeError``: the first prediction may still be running, and billed)
unless the caller opts in with ``fallback_on_unknown_outcome=True``. A failed attempt's prediction is
cancelled by the provider before the next candidate starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from patchwire.errors import (
    NotFoundError,
    PatchwireError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    UnknownOutcomeError,
)
from patchwire.types import ModelRoute

FIXABLE_ELSEWHERE = (RateLimitError, ServiceUnavailableError, Timeout, NotFoundError)


def falls_back(error: PatchwireError, *, after_unknown_outcome: bool = False) -> bool:
    """Whether another deployment or model may succeed where this attempt failed."""
    if isinstance(error, UnknownOutcomeError):
        return after_unknown_outcome
    return isinstance(error, FIXABLE_ELSEWHERE)


def counts_against(error: PatchwireError) -> bool:
    """Whether the failure counts towards the deployment's cooldown (the deployment's fault)."""
    return isinstance(error, FIXABLE_ELSEWHERE)


@attrs.frozen
class Candidate:
    """One place to try a call: a model name as the caller gives it, the route (None for a provider
    model string) and the deployment's name in the cooldown state (None: not tracked)."""

    model: str
    route: ModelRoute | None
    deployment: str | None


def in_order(chain: Sequence[Candidate], cooling: Mapping[str, float]) -> list[Candidate]:
    """The candidates not cooling down, in order; if all are, the least recently failed one."""
    ready = [c for c in chain if c.deployment is None or c.deployment not in cooling]
    if ready:
        return ready
    return [min(chain, key=lambda c: cooling[c.deployment] if c.deployment is not None else 0.0)]
