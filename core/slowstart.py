"""How many creates may be on the wire before the account has had a chance to refuse them.

A crowd of calls on an account whose limit nobody told the gate about would otherwise all be on the
wire before the first 429 comes back, and everything beyond the account's burst is refused once. So a
create counts as *unconfirmed* from the moment it is sent until it is answered, or until
``confirm_after`` seconds have passed without a refusal (a 429 would have come back by then), and at
most ``window`` creates are unconfirmed at once:

- ``window`` starts at ``FIRST_WINDOW``. Each create answered (not refused) within ``FIRST_CONFIRM``
  while creates wait for the window adds one to it (as TCP's slow start: with quick answers the
  window doubles each round trip), so a server that answers quickly lets a crowd through at full
  speed within a few round trips, and a crowd that went through without a refusal leaves the window
  doubled for the next one. A window nobody waits for does not grow. An answer slower than that is a
  prediction's run time (``Prefer: wait``), not the server's speed at taking creates: those creates
  are confirmed by time, and each adds ``1 / window`` (one more each ``confirm_after`` while creates
  wait), a gentle probe for a limit above the first guess.
- ``confirm_after`` starts at ``FIRST_CONFIRM`` and is then twice the quickest answer or refusal
  seen lately (a refusal comes back at least as fast as an answer), never more than the first guess.
  Until the first answer or refusal, the window's creates are spread evenly over ``confirm_after``
  instead of sent together, so the creates that cross a limit nobody knew are one, not a window.

With slow answers and nothing learned yet, creates start at ``FIRST_WINDOW / FIRST_CONFIRM`` a second:
10 a second, Replicate's documented 600 creates a minute. A limit given up front
(``RateGate(per_minute=...)``) replaces all this.
"""

from __future__ import annotations

import collections
import math

#: Creates that may be unconfirmed at once to begin with (and after ``IDLE`` seconds without creates).
FIRST_WINDOW = 10.0
#: Seconds a create stays unconfirmed while nothing has shown how quickly the server answers.
FIRST_CONFIRM = 1.0
#: The shortest ``confirm_after``: below this, timer and scheduling noise outweigh the answer time.
MIN_CONFIRM = 0.005
#: Seconds the quickest answer seen counts before a newer one replaces it.
QUICKEST_FOR = 10.0
#: Seconds without a create after which the window starts again from ``FIRST_WINDOW``.
IDLE = 60.0


class SlowStart:
    """The unconfirmed creates of one gate (see the module docstring). Times are ``time.monotonic()``."""

    __slots__ = (
        "_last",
        "_next",
        "_pending",
        "_quickest",
        "_quickest_at",
        "_spread",
        "confirm_after",
        "waiting",
        "window",
    )

    def __init__(self) -> None:
        self.window = FIRST_WINDOW
        self.confirm_after = FIRST_CONFIRM
        #: Send times of the unconfirmed creates, oldest first.
        self._pending: collections.deque[float] = collections.deque()
        #: Creates waiting for a place now (kept by the gate): while any wait, the window may grow.
        self.waiting = 0
        self._quickest = math.inf
        self._quickest_at = 0.0
        self._last = -math.inf
        #: Until an answer or a refusal shows how quick the server is, the window's creates are spread
        #: over ``confirm_after`` rather than sent at once (when a limit is crossed, one is refused, not
        #: a window's worth); ``_next`` is when the next may go.
        self._spread = True
        self._next = 0.0

    def take(self, now: float) -> float:
        """0.0 if a create may go now (it is counted as unconfirmed), else the seconds until the oldest
        unconfirmed one is confirmed by time (an answer may free a place sooner)."""
        pending = self._pending
        horizon = now - self.confirm_after
        if pending and pending[0] <= horizon:
            self._confirm_by_time(horizon)
        if now - self._last > IDLE:
            self.window = FIRST_WINDOW
        self._last = now
        if len(pending) < self.window:
            if self._spread:
                if now < self._next:
                    return self._next - now
                self._next = now + self.confirm_after / self.window
            pending.append(now)
            return 0.0
        return pending[0] - horizon

    def _confirm_by_time(self, horizon: float) -> None:
        pending = self._pending
        confirmed = 0
        while pending and pending[0] <= horizon:
            pending.popleft()
            confirmed += 1
        if self.waiting:
            self.window += confirmed / self.window

    def crowd_through(self) -> None:
        """The last create the window held back has gone, and nothing was refused: the window was full
        and all of it accepted, so it is doubled, as the next round trip would have (else the next
        crowd as large would start again from half of it)."""
        self.window *= 2.0

    def answered(self, seconds: float, now: float) -> None:
        """A create was answered (not refused) ``seconds`` after it was sent."""
        confirm_after = self.confirm_after
        if seconds < self._quickest or now - self._quickest_at > QUICKEST_FOR:
            self._sample(seconds, now)
        pending = self._pending
        horizon = now - confirm_after
        if pending and pending[0] <= horizon:
            self._confirm_by_time(horizon)  # a late answer's create among them
        if pending and seconds < confirm_after:
            # Which create it was does not matter for the count: one fewer is unconfirmed.
            pending.popleft()
        if self.waiting and seconds < FIRST_CONFIRM:
            self.window += 1.0

    def refused(self, seconds: float, now: float) -> None:
        """A create was answered 429 ``seconds`` after it was sent: no longer on the wire, and the
        window is halved (the pace learned from the 429 keeps the rate)."""
        unconfirmed = seconds < self.confirm_after
        if seconds < self._quickest or now - self._quickest_at > QUICKEST_FOR:
            self._sample(seconds, now)
        pending = self._pending
        if pending and unconfirmed:
            pending.popleft()
        self.window = max(FIRST_WINDOW, self.window * 0.5)

    def _sample(self, seconds: float, now: float) -> None:
        """The quickest answer lately took ``seconds``: a refusal would come back within twice that."""
        self._quickest = seconds
        self._quickest_at = now
        self._spread = False
        self.confirm_after = min(FIRST_CONFIRM, max(MIN_CONFIRM, 2.0 * seconds))
