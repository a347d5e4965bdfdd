"""A request rate learned from 429 answers, so a crowd of calls keeps to an account's limit it was not
told about, instead of each call backing off on its own.

A budget (creates, or reads) is not paced until it meets a 429 that asks for a wait. Then every request
of the budget keeps to one schedule at the rate the account lets through. A refusal means the account's
allowance was used up when the refused request arrived, so between two refusals the account let
through exactly what it refills in that time: the requests accepted between them, over the time between
them, is the account's rate. Such a pace grows by 0.5% a second once ``QUIET`` requests' time has
passed, so it finds a higher limit (and with it the next 429, about one every 20 s while demand stays
above the limit). At the first refusal there is
no earlier one to measure from, and the pace is a guess: the rate let through over the last ``WINDOW``
seconds (too high while that includes a burst, which the next refusal corrects), and at least one
request per wait the 429 asked for. When only that lower bound stands (a lone 429 after a request or
two) the pace doubles every wait (every ``GUESS_DOUBLING`` seconds at least), so it does not hold a
router to one create a second for long, until the next refusal measures the rate. ``MEMORY``
seconds without a refusal and the budget is unpaced again: full speed, the provider's bursts included.
A 429 that asks for no wait (``Retry-After: 0``) teaches nothing: it is not a limit that pacing would
help.
"""

from __future__ import annotations

import collections

#: Seconds over which the allowed rate is measured at each refusal.
WINDOW = 10.0
#: Growth of a measured pace per second since the last refusal.
GROWTH = 0.005
#: Requests, at the measured pace, before it starts growing (see ``Pace.current``).
QUIET = 10.0
#: Seconds in which a guessed pace (nothing to measure between refusals yet) doubles.
GUESS_DOUBLING = 1.0
#: Seconds without a refusal after which the pace is dropped (full speed again).
MEMORY = 60.0
#: The slowest pace a measurement may set (requests a second): one a minute, as a low-credit account.
FLOOR = 1.0 / 60.0
#: The pace is measured between two refusals at least this many seconds apart (fewer, and a token or
#: two of the account's allowance either way is too large a share)...
MIN_SPAN = 1.0
#: ...and at most this many (an older one may predate a change of limit).
MAX_SPAN = 60.0


class Pace:
    """One budget's learned pace (see the module docstring). Times are ``time.monotonic()`` seconds."""

    __slots__ = (
        "_count",
        "_doubling",
        "_marks",
        "_next",
        "_refused",
        "_refused_count",
        "_sent",
        "low_guess",
        "rate",
        "start",
    )

    def __init__(self) -> None:
        #: Requests a second the account allowed, as last measured; None while unpaced.
        self.rate: float | None = None
        #: True when ``rate`` is only the lower bound a lone 429's wait gives (it then doubles every
        #: ``_doubling`` seconds until a refusal measures the rate).
        self.low_guess = False
        self._doubling = GUESS_DOUBLING
        #: When the latest refusal that set the pace came.
        self.start = 0.0
        #: Send times within the window, and the send times of the refused ones.
        self._sent: collections.deque[float] = collections.deque()
        self._refused: collections.deque[float] = collections.deque()
        self._next = 0.0
        #: Requests sent, and refused, since the start (the marks compare them).
        self._count = 0
        self._refused_count = 0
        #: For each recent refusal: when its request was sent, and the two counts up to it.
        self._marks: collections.deque[tuple[float, int, int]] = collections.deque()

    def current(self, now: float) -> float | None:
        """Requests a second allowed now; None when the budget is not paced."""
        rate = self.rate
        if rate is None:
            return None
        age = now - self.start
        # A slow account (a few requests a minute, a burst of one) refuses the first request sent
        # early at all: the pace keeps to the measured rate for ``QUIET`` requests' time before it
        # grows, and is kept at least twice that long.
        quiet = QUIET / rate
        if age > MEMORY and age > 2.0 * quiet:
            self.rate = None
            return None
        if not self.low_guess:
            return rate * (1.0 + GROWTH * (age - quiet)) if quiet < age else rate
        doubled: float = 2.0 ** (age / self._doubling)
        return rate * doubled

    def sent(self, now: float) -> None:
        """Count a request sent at ``now`` without asking the schedule (the budget is unpaced)."""
        self._count += 1
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
        self._refused_count += 1
        mark = (sent_at, self._count_up_to(sent_at), self._refused_count)
        between = self._rate_since_earlier_refusal(mark)
        self._marks.append(mark)
        if wait <= 0:
            return
        # The wait asked for is the time until the account allows one more request, so the pace is at
        # least one per wait: a lone 429 after a few requests measures next to nothing and must not
        # slow every later call to the floor.
        least = 1.0 / wait
        self.low_guess = False
        if between is not None:  # measured: the wait says only when the next token comes
            least = FLOOR
        else:
            sent = self._sent
            while sent and sent[0] < horizon:
                sent.popleft()
            since = sent[0] if sent else now
            # (Over no less than the wait: two requests a moment apart, one refused, are not a rate.)
            span = max(now - since, 1.0, wait)
            between = max(0, len(sent) - len(refused)) / span
            self.low_guess = between < least
            self._doubling = max(GUESS_DOUBLING, wait)
        self.rate = max(FLOOR, between, least)
        self.start = now
        self._next = max(self._next, now)

    def _count_up_to(self, sent_at: float) -> int:
        """Requests sent up to ``sent_at`` (the ones sent after it are still in the window)."""
        later = 0
        for t in reversed(self._sent):
            if t <= sent_at:
                break
            later += 1
        return self._count - later

    def _rate_since_earlier_refusal(self, mark: tuple[float, int, int]) -> float | None:
        """Requests a second accepted since the oldest refusal within ``MAX_SPAN`` (and at least
        ``MIN_SPAN`` before this one); None without one."""
        sent_at, count, refused = mark
        marks = self._marks
        while marks and marks[0][0] < sent_at - MAX_SPAN:
            marks.popleft()
        if not marks or sent_at - marks[0][0] < MIN_SPAN:
            return None
        then, count_then, refused_then = marks[0]
        accepted = (count - count_then) - (refused - refused_then)
        return max(0, accepted) / (sent_at - then)
