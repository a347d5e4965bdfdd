"""Client-side rate limits shared by every call of a router — and, through Redis, by every replica.

A big batch should not trip the provider's own limits, and one 429 should slow the whole router down
(shared back-off) rather than each call finding out on its own. Given a ``SharedLimits`` store
(``patchwire.redis_limits.RedisLimits``, the ``patchwire[redis]`` extra), the per-minute budget and the
back-off live there, so several processes on one account stay within its limits together. If the store
cannot be reached the gate keeps going on its own bucket, says so once in the log, and goes back to the
store when it answers again: a call never fails because the store is gone.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from typing import Protocol

from patchwire.pacing import Pace
from patchwire.slowstart import SlowStart

log = logging.getLogger("patchwire")

#: The longest back-off a server's hint (``Retry-After``) may impose, unless a gate says otherwise: a
#: hint of ``inf`` or an hour must not park every call through the gate until its deadline.
MAX_BACK_OFF = 60.0

#: How long the gate stays on its own bucket after the shared store failed, before asking it again.
SHARED_RETRY = 5.0


def cap_back_off(seconds: float, gate: RateGate | None = None) -> float:
    """``seconds`` of a server's back-off hint, within [0, the gate's ``max_back_off``] (``inf`` and
    ``nan`` become the maximum)."""
    ceiling = gate.max_back_off if gate is not None else MAX_BACK_OFF
    if not math.isfinite(seconds):
        return ceiling
    return min(max(0.0, seconds), ceiling)


def _loop_lock(locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]) -> asyncio.Lock:
    """The running loop's lock in ``locks`` (made on first use): a lock serves only the loop it was
    first awaited on, and scripts run one loop after another."""
    loop = asyncio.get_running_loop()
    lock = locks.get(loop)
    if lock is None:
        lock = locks[loop] = asyncio.Lock()
    return lock


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class SharedLimits(Protocol):
    """Limits kept outside this process, so several processes share them (see ``RedisLimits``).

    Every method may raise any exception when the store cannot be reached; the gate then falls back to
    its own bucket. ``describe()`` names the store for log lines (never a password).
    """

    async def take(self, name: str, per_minute: float, burst: int) -> float:
        """Take one unit of budget ``name``: 0.0 if granted, else the seconds until one may be free."""
        ...

    async def pause(self, name: str, seconds: float) -> None:
        """Nobody takes from ``name`` for ``seconds`` (a 429 said so); a longer pause already set stays."""
        ...

    async def paused_for(self, name: str) -> float:
        """Seconds left of the pause on ``name`` (0.0 if none)."""
        ...

    def describe(self) -> str: ...


class RateGate:
    """Predictions per minute (a token bucket of ``burst``), a shared back-off, and paces learned from
    429s (``patchwire.pacing``) for creates and for reads (polls), so every call keeps to one schedule.

    ``shared`` keeps the per-minute budget and the back-off in a store several processes use (under
    ``name``); without ``per_minute`` only the back-off is shared. How many calls run at once is the
    router's one concurrency limit (``Router(max_concurrency=...)``), not the gate's.
    """

    def __init__(
        self,
        *,
        per_minute: float | None = None,
        burst: int | None = None,
        shared: SharedLimits | None = None,
        name: str = "creates",
        max_back_off: float = MAX_BACK_OFF,
        reads_per_minute: float | None = None,
    ) -> None:
        if per_minute is not None and (isinstance(per_minute, bool) or not per_minute > 0):
            raise ValueError("per_minute must be a positive number")
        if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int) or burst <= 0):
            raise ValueError("burst must be a positive integer")
        if reads_per_minute is not None and (
            isinstance(reads_per_minute, bool) or not 0 < reads_per_minute < math.inf
        ):
            raise ValueError("reads_per_minute must be a positive number")
        if isinstance(max_back_off, bool) or not (0 < max_back_off < math.inf):
            raise ValueError("max_back_off must be a positive, finite number of seconds")
        self.per_minute = per_minute
        #: The longest any one back-off (a 429's Retry-After) pauses the gate.
        self.max_back_off = float(max_back_off)
        self.burst = burst if burst is not None else max(1, min(int(per_minute or 0), 10))
        self.shared = shared
        self.name = name
        self._tokens = float(self.burst) if per_minute else 0.0
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        #: A back-off not yet written to the shared store (``back_off`` is called without awaiting).
        self._pause_to_share = 0.0
        #: While the shared store is unreachable: when to ask it again (monotonic); 0.0 when it is up.
        self._shared_down_until = 0.0
        self._bucket_lock: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        #: Polls (and other reads) a minute given up front; None: only what 429s teach.
        self.reads_per_minute = reads_per_minute
        #: What 429s taught about the account's creates and reads (unpaced until the first one).
        self.create_pace = Pace()
        #: Creates on the wire before the account could refuse them (only without ``per_minute``).
        self.slow_start = SlowStart()
        #: The create waiting for a place in the slow start's window (an answer wakes it).
        self._slot_waiter: asyncio.Future[None] | None = None
        self.read_pace = Pace()
        self._reads_paused_until = 0.0
        self._next_read = 0.0
        self._read_lock: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        shared = f", shared={self.shared.describe()}" if self.shared is not None else ""
        return f"RateGate(per_minute={self.per_minute}, burst={self.burst}{shared})"

    @property
    def sharing(self) -> bool:
        """True when the budget is kept in the shared store now (False without one, or while it is down)."""
        return self.shared is not None and not self._shared_down_until

    def back_off(self, seconds: float) -> None:
        """Every call through this gate (and, when shared, every process) waits ``seconds`` before its
        next create. Capped at ``max_back_off``: a hint never pauses the gate longer than that, and the
        calls that set it gave up their own wait before their deadlines (they back off only within it)."""
        seconds = cap_back_off(seconds, self)
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        if self.shared is not None:
            self._pause_to_share = max(self._pause_to_share, seconds)

    async def wait_back_off(self) -> None:
        while (delay := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    def create_now(self) -> bool:
        """True (the create counted as sent) when a create may go at once without waiting for anything,
        which is the common case and needs no await; False when the caller must ``await acquire_create()``."""
        if self.shared is None and not self.per_minute:
            pace = self.create_pace
            if pace.rate is None:
                now = time.monotonic()
                if self._paused_until <= now and not self.slow_start.take(now):
                    pace.sent(now)
                    return True
        return False

    async def acquire_create(self) -> None:
        """Wait until a new prediction may be created (shared back-off, the per-minute bucket, then the
        pace learned from 429s)."""
        pace = self.create_pace
        if self.shared is None and not self.per_minute:
            now = time.monotonic()
            if self._paused_until > now:
                await self.wait_back_off()
                now = time.monotonic()
            if pace.rate is None:  # nothing learned: full speed within the window, no lock (the common case)
                slow = self.slow_start
                if not slow.take(now):
                    pace.sent(now)
                    return
                slow.waiting += 1  # the window holds this create back: it may grow
                try:
                    await self._acquire_create_in_turn()
                finally:
                    slow.waiting -= 1
                    if not slow.waiting and pace.rate is None:
                        slow.crowd_through()
                return
        await self._acquire_create_in_turn()

    async def _acquire_create_in_turn(self) -> None:
        pace = self.create_pace
        lock = _loop_lock(self._bucket_lock)
        # One waiter at a time asks the bucket (local or shared): the rest queue here in order, so a
        # crowd of callers costs the shared store one request per create, not one per waiter.
        async with lock:
            while True:
                delay = self._paused_until - time.monotonic()
                if self.shared is not None and self._shared_usable():
                    answer = await self._ask_shared(self.shared, delay)
                    if answer is None:
                        continue  # the store just failed: the local bucket decides instead
                    delay = answer
                elif delay <= 0:
                    delay = self._take_local(self.per_minute) if self.per_minute else 0.0
                if delay <= 0:
                    break
                await asyncio.sleep(delay)
            while (delay := pace.delay(time.monotonic())) > 0:
                await asyncio.sleep(delay)
                await self.wait_back_off()
            if not self.per_minute:
                while (delay := self.slow_start.take(time.monotonic())) > 0:
                    await self._wait_for_slot(delay)

    async def _wait_for_slot(self, delay: float) -> None:
        """Until an answer frees a place in the slow start's window, or ``delay`` seconds pass."""
        loop = asyncio.get_running_loop()
        waiter = self._slot_waiter = loop.create_future()
        timer = loop.call_later(delay, _wake, waiter)
        self.slow_start.waiting += 1
        try:
            await waiter
        finally:
            self.slow_start.waiting -= 1
            timer.cancel()
            self._slot_waiter = None

    def answered(self, seconds: float) -> None:
        """A create was answered (not refused) ``seconds`` after it was sent: the slow start's window
        learns from it (one cheap call per create; see ``patchwire.slowstart``)."""
        self.slow_start.answered(seconds, time.monotonic())
        if self._slot_waiter is not None:
            _wake(self._slot_waiter)

    def refused(self, budget: str, sent_at: float, seconds: float) -> None:
        """A request sent at ``sent_at`` (``time.monotonic()``) was answered 429, asking for ``seconds``
        of back-off. ``budget``: "creates" pauses every create (and, shared, every process's); "reads"
        pauses the polls. Either way the budget's pace is learned again (``patchwire.pacing``)."""
        now = time.monotonic()
        if budget == "creates":
            self.back_off(seconds)
            self.create_pace.refused(sent_at, now, seconds)
            self.slow_start.refused(now - sent_at, now)
            if self._slot_waiter is not None:
                _wake(self._slot_waiter)
        else:
            self._reads_paused_until = max(self._reads_paused_until, now + cap_back_off(seconds, self))
            self.read_pace.refused(sent_at, now, seconds)

    async def acquire_read(self) -> None:
        """Wait until a poll may be sent: the polls of every call through the gate keep together to
        ``reads_per_minute`` and to what 429s on reads taught, instead of each polling on its own."""
        pace = self.read_pace
        if (
            pace.rate is None
            and self.reads_per_minute is None
            and time.monotonic() >= self._reads_paused_until
        ):
            pace.sent(time.monotonic())
            return
        lock = _loop_lock(self._read_lock)
        async with lock:
            while True:
                now = time.monotonic()
                delay = self._reads_paused_until - now
                if delay <= 0 and self.reads_per_minute is not None:
                    delay = self._next_read - now
                if delay <= 0:
                    delay = pace.delay(now)
                    if delay <= 0:
                        if self.reads_per_minute is not None:
                            self._next_read = now + 60.0 / self.reads_per_minute
                        return
                await asyncio.sleep(delay)

    def _take_local(self, per_minute: float) -> float:
        rate = per_minute / 60.0
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / rate

    def _shared_usable(self) -> bool:
        down = self._shared_down_until
        return not down or time.monotonic() >= down

    async def _ask_shared(self, shared: SharedLimits, paused_here: float) -> float | None:
        """The delay the shared store asks for (0.0: go ahead, a unit of budget taken), or None if it
        could not be reached. A pause this process learned goes to the store first."""
        try:
            if self._pause_to_share:
                seconds, self._pause_to_share = self._pause_to_share, 0.0
                await shared.pause(self.name, seconds)
            delay = paused_here if paused_here > 0 else await shared.paused_for(self.name)
            if delay <= 0 and self.per_minute:
                delay = await shared.take(self.name, self.per_minute, self.burst)
        except Exception as exc:  # whatever the store's client raises: keep serving on our own bucket
            if not self._shared_down_until:
                log.warning(
                    "patchwire: shared rate limits at %s unreachable (%s); this process keeps to its "
                    "own limits until it is back",
                    shared.describe(),
                    type(exc).__name__,
                )
            self._shared_down_until = time.monotonic() + SHARED_RETRY
            return None
        if self._shared_down_until:
            log.warning("patchwire: shared rate limits at %s are back; sharing again", shared.describe())
            self._shared_down_until = 0.0
        return delay
