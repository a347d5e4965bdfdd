"""Cooldowns: a deployment that keeps failing is skipped for a while, so the others serve.

A ``Router`` records each deployment's failures (the kinds another deployment can fix: rate limits,
5xx, timeouts, a missing model) and successes here. After ``allowed_fails`` failures in a row a
deployment cools down for ``cooldown_time`` seconds; a success clears its count. The state is behind the
small ``Cooldowns`` interface so that replicas can share it (a Redis-backed one, say); ``LocalCooldowns``
keeps it in this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

#: LiteLLM's defaults.
DEFAULT_ALLOWED_FAILS = 3
DEFAULT_COOLDOWN_TIME = 5.0


@runtime_checkable
class Cooldowns(Protocol):
    """Where deployments' failures and cooldowns are kept. Deployments are named by strings."""

    async def cooling(self, deployments: Sequence[str]) -> dict[str, float]:
        """Of ``deployments``, those cooling down now, each with the time of its last failure."""
        ...

    async def failed(self, deployment: str, *, allowed_fails: int, cooldown_time: float) -> bool:
        """Record a failure; the ``allowed_fails``-th in a row starts a cooldown of ``cooldown_time`` s
        (and returns True)."""
        ...

    async def succeeded(self, deployment: str) -> None:
        """Record a success: the deployment's count of failures starts again from zero."""
        ...


class LocalCooldowns:
    """Cooldowns kept in this process. ``clock`` gives seconds (default: ``time.monotonic``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._fails: dict[str, int] = {}
        #: deployment -> (cooling until, last failure)
        self._until: dict[str, tuple[float, float]] = {}

    async def cooling(self, deployments: Sequence[str]) -> dict[str, float]:
        if not self._until:
            return {}
        now = self._clock()
        found: dict[str, float] = {}
        for name in deployments:
            entry = self._until.get(name)
            if entry is None:
                continue
            until, last = entry
            if now < until:
                found[name] = last
            else:
                del self._until[name]
        return found

    async def failed(self, deployment: str, *, allowed_fails: int, cooldown_time: float) -> bool:
        now = self._clock()
        count = self._fails.get(deployment, 0) + 1
        if count >= allowed_fails:
            self._fails.pop(deployment, None)
            self._until[deployment] = (now + cooldown_time, now)
            return True
        self._fails[deployment] = count
        entry = self._until.get(deployment)
        if entry is not None:  # tried while cooling (nothing else was left): it failed again
            self._until[deployment] = (entry[0], now)
        return False

    async def succeeded(self, deployment: str) -> None:
        self._fails.pop(deployment, None)
        self._until.pop(deployment, None)
