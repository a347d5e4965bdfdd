"""Client-side rate limits shared by every call of a router.

A big batch should not trip the provider's own limits, and one 429 should slow the whole router down
(shared back-off) rather than each call finding out on its own.
"""

from __future__ import annotations

import asyncio
import time
import weakref


class RateGate:
    """Predictions per minute (token bucket), predictions in flight, and a shared back-off."""

    def __init__(self, *, per_minute: float | None = None, in_flight: int | None = None) -> None:
        if per_minute is not None and per_minute <= 0:
            raise ValueError("per_minute must be positive")
        if in_flight is not None and in_flight <= 0:
            raise ValueError("in_flight must be positive")
        self.per_minute = per_minute
        self.in_flight = in_flight
        self._tokens = float(min(per_minute, 10.0)) if per_minute else 0.0
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._bucket_lock: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def back_off(self, seconds: float) -> None:
        """Every call through this gate waits at least ``seconds`` before its next request."""
        self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))

    async def wait_back_off(self) -> None:
        while (delay := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def acquire_create(self) -> None:
        """Wait until a new prediction may be created (shared back-off, then the per-minute bucket)."""
        await self.wait_back_off()
        if not self.per_minute:
            return
        loop = asyncio.get_running_loop()
        lock = self._bucket_lock.setdefault(loop, asyncio.Lock())
        async with lock:
            rate = self.per_minute / 60.0
            burst = max(1.0, min(self.per_minute, 10.0))
            while True:
                now = time.monotonic()
                self._tokens = min(burst, self._tokens + (now - self._stamp) * rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / rate)

    def slot(self) -> asyncio.Semaphore | None:
        """The in-flight semaphore for the running loop, or None when in-flight is unlimited."""
        if self.in_flight is None:
            return None
        loop = asyncio.get_running_loop()
        sem = self._slots.get(loop)
        if sem is None:
            sem = self._slots[loop] = asyncio.Semaphore(self.in_flight)
        return sem
