"""Fault injection, rate limiting and counters for the simulator.

Faults are drawn per request from one seeded RNG, so a run with the same seed and the same
request order injects the same faults. `FaultPlan.force` queues faults that fire on the next
matching requests regardless of rates, for tests that need one exact failure.
"""

from __future__ import annotations

import collections
import math
import random
from collections.abc import Collection

import attrs

# Every fault kind, in the order the rates are stacked on one uniform draw.
FAULT_KINDS = ("drop", "hang", "429", "5xx", "drop_after_create", "cut_stream")

# Route kinds a fault can target (`Faults.routes`); "web" and unknown paths are never faulted.
ROUTE_KINDS = frozenset(
    {"create", "get", "cancel", "list", "stream", "model", "version", "account", "deployment", "files"}
)


def _rate(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within [0, 1], got {value}")


def _routes(
    _inst: object, _attribute: attrs.Attribute[Collection[str] | None], value: Collection[str] | None
) -> None:
    if value is not None and not set(value) <= ROUTE_KINDS:
        unknown = sorted(set(value) - ROUTE_KINDS)
        raise ValueError(f"unknown route kinds {unknown}; expected some of {sorted(ROUTE_KINDS)}")


@attrs.define(kw_only=True)
class Faults:
    """Probabilities (0..1) of each fault per request, applied only to route kinds in `routes`
    (None: every API route). The kinds are mutually exclusive for one request.

    - rate_429: answer 429 with `Retry-After` and a `retry_after` body field.
    - rate_5xx: answer one of `statuses_5xx` (the request is not processed).
    - rate_drop: close the connection before processing (a create makes no prediction).
    - rate_drop_after_create: create the prediction, then close the connection unanswered.
    - rate_cut_stream: close an SSE stream after >= 1 output event and before `done`.
    - rate_hang: accept the request and never answer until the client goes away.
    - rate_fail: a created prediction ends `failed` (as does input key `__fail__`).
    """

    rate_429: float = attrs.field(default=0.0, validator=_rate)
    rate_5xx: float = attrs.field(default=0.0, validator=_rate)
    rate_drop: float = attrs.field(default=0.0, validator=_rate)
    rate_cut_stream: float = attrs.field(default=0.0, validator=_rate)
    rate_drop_after_create: float = attrs.field(default=0.0, validator=_rate)
    rate_hang: float = attrs.field(default=0.0, validator=_rate)
    rate_fail: float = attrs.field(default=0.0, validator=_rate)
    retry_after: float = 1.0
    seed: int = 0
    routes: Collection[str] | None = attrs.field(default=None, validator=_routes)
    statuses_5xx: tuple[int, ...] = (500, 502, 503)

    def rate(self, kind: str) -> float:
        return float(getattr(self, f"rate_{kind}"))


_APPLIES_TO = {"drop_after_create": "create", "cut_stream": "stream"}


class FaultPlan:
    """Decides, per request, which fault (if any) to inject."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self._forced: collections.deque[tuple[str, str | None]] = collections.deque()

    def force(self, fault: str, route: str | None = None, times: int = 1) -> None:
        if fault not in FAULT_KINDS and fault != "fail":
            raise ValueError(f"unknown fault {fault!r}; expected one of {(*FAULT_KINDS, 'fail')}")
        for _ in range(times):
            self._forced.append((fault, route))

    def _take_forced(self, kind: str) -> str | None:
        for i, (fault, route) in enumerate(self._forced):
            if fault == "fail":  # a prediction fault, taken by fail_prediction()
                continue
            target = _APPLIES_TO.get(fault, route)
            if (route is None or route == kind) and (target is None or target == kind):
                del self._forced[i]
                return fault
        return None

    def draw(self, kind: str) -> str | None:
        """The fault for one request of route `kind`, or None."""
        if self._forced:
            forced = self._take_forced(kind)
            if forced is not None:
                return forced
        routes = self.faults.routes
        if kind not in ROUTE_KINDS or (routes is not None and kind not in routes):
            return None
        u = self.rng.random()
        for fault in FAULT_KINDS:
            target = _APPLIES_TO.get(fault)
            if target is not None and target != kind:
                continue
            u -= self.faults.rate(fault)
            if u < 0:
                return fault
        return None

    def fail_prediction(self) -> bool:
        """Whether a new prediction should fail (forced "fail" or `rate_fail`)."""
        for i, (fault, _route) in enumerate(self._forced):
            if fault == "fail":
                del self._forced[i]
                return True
        return self.faults.rate_fail > 0 and self.rng.random() < self.faults.rate_fail

    def status_5xx(self) -> int:
        return self.rng.choice(self.faults.statuses_5xx)

    def cut_point(self, remaining: int) -> int:
        """How many output events a cut stream sends before it is closed (>= 1)."""
        return self.rng.randint(1, max(1, remaining))

    def retry_after(self) -> int:
        return math.ceil(self.faults.retry_after)


@attrs.define
class SimStats:
    """Counters. `faults` counts every injected fault by kind (`429`, `5xx`, `drop`, `hang`,
    `drop_after_create`, `cut_stream`, `fail`); `by_route` counts requests by route kind (an SSE
    stream once, as it opens), `refused` those of them the rate limits answered 429."""

    requests_total: int = 0
    created: int = 0
    canceled: int = 0
    cancel_requests: int = 0
    streams: int = 0
    rate_limited: int = 0
    unauthenticated: int = 0
    by_route: collections.Counter[str] = attrs.Factory(collections.Counter)
    #: Requests answered 429 by the rate limits, by route kind (``rate_limited`` is their total).
    refused: collections.Counter[str] = attrs.Factory(collections.Counter)
    faults: collections.Counter[str] = attrs.Factory(collections.Counter)
