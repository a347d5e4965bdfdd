"""A circuit breaker per upstream: once it is known down, calls fail at once instead of each spending
its own half-minute of connection retries; after a cool-down one call probes, and its success closes
the breaker for everyone.

"Down" means connections that fail before a request is sent (refused, unreachable, connect timeout):
an upstream that answers — even with errors — is up.
"""

from __future__ import annotations

import time

#: Connection failures in a row (across calls) that open the breaker.
FAILURES_TO_OPEN = 3
#: Seconds an open breaker fails calls fast before it lets one probe through.
COOL_DOWN = 5.0
#: Longest cool-down: it doubles after each failed probe, up to this.
MAX_COOL_DOWN = 60.0


class CircuitBreaker:
    """The state of one upstream origin. ``allow()`` before connecting: None to go ahead, or the
    seconds the breaker stays open. Report each attempt with ``succeeded()`` or ``failed()``."""

    __slots__ = ("_cool_down", "_failures", "_open_until", "_probe_started", "_probing")

    def __init__(self) -> None:
        self._failures = 0
        self._open_until = 0.0
        self._cool_down = COOL_DOWN
        self._probing = False
        self._probe_started = 0.0

    @property
    def is_open(self) -> bool:
        return self._failures >= FAILURES_TO_OPEN

    def allow(self) -> float | None:
        if self._failures < FAILURES_TO_OPEN:  # closed: the common case, decided at once
            return None
        now = time.monotonic()
        if now < self._open_until:
            return self._open_until - now
        # A probe that never reported (its call was cancelled) gives way after a cool-down.
        if self._probing and now - self._probe_started < self._cool_down:
            return self._probe_started + self._cool_down - now
        self._probing = True  # this caller probes; the others keep failing fast until it reports
        self._probe_started = now
        return None

    def succeeded(self) -> None:
        self._failures = 0
        self._probing = False
        self._cool_down = COOL_DOWN

    def failed(self) -> None:
        was_probe = self._probing
        self._probing = False
        self._failures += 1
        if self._failures >= FAILURES_TO_OPEN:
            if was_probe:
                self._cool_down = min(MAX_COOL_DOWN, self._cool_down * 2)
            self._open_until = time.monotonic() + self._cool_down
