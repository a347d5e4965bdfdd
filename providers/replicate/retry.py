"""Back-off for retries: exponential with full jitter, a server's ``Retry-After`` winning when given,
and never sleeping past the call's deadline."""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """Delays for one retried request: ``base * 2**n`` with jitter, capped at ``cap``.

    ``attempts`` counts tries made; ``exhausted`` once ``max_attempts`` is reached.
    """

    __slots__ = ("attempts", "base", "cap", "max_attempts")

    def __init__(self, *, base: float = 0.25, cap: float = 8.0, max_attempts: int = 6) -> None:
        self.base = base
        self.cap = cap
        self.max_attempts = max_attempts
        self.attempts = 0

    @property
    def exhausted(self) -> bool:
        return self.attempts >= self.max_attempts

    def next_delay(self, retry_after: float | None = None) -> float:
        """The wait before the next try; a server's ``Retry-After`` is honoured as given."""
        n = self.attempts
        self.attempts += 1
        if retry_after is not None:
            # A little jitter on top, so a crowd told "1 s" does not come back in one burst.
            return retry_after + random.uniform(0.0, min(1.0, 0.1 + retry_after * 0.1))
        ceiling = min(self.cap, self.base * (2**n))
        return random.uniform(ceiling / 2, ceiling)


async def sleep_before(deadline: float, delay: float) -> bool:
    """Sleep ``delay`` seconds unless that passes ``deadline`` (loop time): False then, without sleeping
    past it, so the caller can give up with the error it has instead of a bare timeout."""
    loop = asyncio.get_running_loop()
    if loop.time() + delay >= deadline:
        return False
    await asyncio.sleep(delay)
    return True
