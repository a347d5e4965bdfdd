"""A request rate learned from 429 answers, so a crowd of calls keeps to an account's limit it was not
told about, instead of each call backing off on its own.

A budget (creates, or reads) is not paced until it meets a 429 that asks for a wait. Then the pace is
the rate the account let through over the last ``WINDOW`` seconds — the requests sent and not refused,
over the window: while demand is above the limit that is the rate the account's bucket refills at — and
every request of the budget keeps to one schedule at that pace. The pace grows by 1% a second, so it
finds a higher limit (and with it the next 429, about one every 15 s while demand stays above the
limit); ``MEMORY`` seconds without a refusal and the budget is unpaced again: full speed, the provider's
bursts included. A 429 that asks for no wait (``Retry-After: 0``) teaches nothing: it is not a limit
that pacing would help.
"""

from __future__ import annotations

import collections

#: Seconds over which the allowed rate is measured at each refusal.
WINDOW = 10.0
#: Growth of a measured pace per second since the last refusal.
GROWTH = 0.01
#: Seconds without a refusal after which the pace is dropped (full speed again).
MEMORY = 60.0
#: The slowest pace a measurement may set (requests a second): one a minute, as a low-credit account.
FLOOR = 1.0 / 60.0


class Pace:
    """One budget's learned pace (see the module docstring). Times are ``time.monotonic()`` seconds."""

    __slots__ = ("_next", "_refused", "_sent", "rate", "start")

    def __init__(self) -> None:
        #: Requests a second the account allowed, as last measured; None while unpaced.
        self.rate: float | None = None
        #: When the latest refusal that set the pace came.
        self.start = 0.0
        #: Send times within the window, and the send times of the refused ones.
        self._sent: collections.deque[float] = collections.deque()
        self._refused: collections.deque[float] = collections.deque()
        self._next = 0.0

    def current(self, now: float) -> float | None:
        """Requests a second allowed now; None when the budget is not paced."""
        rate = self.rate
        if rate is None:
            return None
        age = now - self.start
        if age > MEMORY:
            self.rate = None
            return None
        return rate * (1.0 + GROWTH * age)

    def sent(self, now: float) -> None:
        """Count a request sent at ``now`` without asking the schedule (the budget is unpaced)."""
        sent = self._sent
        sent.append(now)
        while sent[0] < now - WINDOW:
            sent.popleft()

    def delay(self, now: float) -> float:
        """0.0 if a request may go now (it is counted as sent), else the seconds until it may."""
        rate = self.current(now)
        if rate is not None:
            if now < self._next:
                return self._next - now
            self._next = now + 1.0 / rate
        self.sent(now)
        return 0.0

    def refused(self, sent_at: float, now: float, wait: float) -> None:
        """A request sent at ``sent_at`` was answered 429 at ``now``, asking for ``wait`` seconds."""
        horizon = now - WINDOW
        refused = self._refused
        refused.append(sent_at)
        while refused and refused[0] < horizon:
            refused.popleft()
        if wait <= 0:
            return
        sent = self._sent
        while sent and sent[0] < horizon:
            sent.popleft()
        since = sent[0] if sent else now
        span = max(now - since, 1.0)
        accepted = max(0, len(sent) - len(refused))
        # The wait asked for is the time until the account allows one more request, so the pace is at
        # least one per wait: a lone 429 after a few requests measures next to nothing and must not
        # slow every later call to the floor.
        self.rate = max(FLOOR, accepted / span, 1.0 / wait)
        self.start = now
        self._next = max(self._next, now)
