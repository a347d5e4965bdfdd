"""Rate limits and cooldowns kept in Redis, so every process on one Replicate account shares them.

Needs the ``patchwire[redis]`` extra: the ``redis`` package's asyncio client, and the ``limits``
package's moving-window limiter (an atomic Lua script in Redis) for the per-minute budget, so no limiter
algorithm is written here. A budget of ``per_minute`` with a burst of ``burst`` becomes "at most
``burst`` in any ``burst * 60 / per_minute`` seconds" (the window rounded to whole seconds), which is
the same long-run rate and never more than ``burst`` at once. Pauses (a 429's ``Retry-After``) and
cooldowns are keys with an expiry.

Every Redis command has a short timeout and is not retried with back-off: a caller waiting for a create
would rather go on under local limits (see ``RateGate``) than wait for Redis.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

from patchwire.errors import ConfigError

#: Seconds a Redis command may take before the gate gives up on Redis for a while.
REDIS_TIMEOUT = 1.0
KEY_PREFIX = "patchwire"

log = logging.getLogger("patchwire")


def _require() -> tuple[Any, Any, Any]:
    try:
        import limits
        import limits.aio.storage
        import limits.aio.strategies
        import redis.asyncio
    except ImportError:
        raise ConfigError(
            "sharing limits through Redis needs the redis extra: pip install 'patchwire[redis]'"
        ) from None
    return redis.asyncio, limits, limits.aio


def redis_url(
    *, url: str | None = None, host: str | None = None, port: int | None = None, password: str | None = None
) -> str:
    """One Redis URL from LiteLLM's settings: ``redis_url``, or host, port and password."""
    if url is not None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("redis", "rediss", "unix") or not (parsed.hostname or parsed.path):
            raise ConfigError(
                "redis_url must look like redis://host:6379/0 (or rediss://, unix://)", param="redis_url"
            )
        return url
    if host is None:
        raise ConfigError("give redis_url, or redis_host (with redis_port)", param="redis_host")
    auth = f":{urllib.parse.quote(password, safe='')}@" if password else ""
    shown_host = f"[{host}]" if ":" in host else host
    return f"redis://{auth}{shown_host}:{port or 6379}"


def shown_url(url: str) -> str:
    """The URL without its password, for log lines and errors."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.rsplit("@", 1)[1]
    user = f"{parsed.username}:***@" if parsed.username else ":***@"
    return urllib.parse.urlunsplit(parsed._replace(netloc=user + netloc))


class RedisLimits:
    """A ``SharedLimits`` store (see ``patchwire.ratelimit``) and a cooldown store in one Redis.

    ``RedisLimits("redis://127.0.0.1:6379/0")``; ``await check()`` at start-up to fail early;
    ``await aclose()`` when done. ``namespace`` separates accounts or deployments sharing one Redis.
    """

    def __init__(self, url: str, *, namespace: str = "default", timeout: float = REDIS_TIMEOUT) -> None:
        aioredis, limits, limits_aio = _require()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._url = url
        self.namespace = namespace
        # One quick retry (a connection dropped by a Redis restart), never a back-off: see the module doc.
        self._pool = aioredis.ConnectionPool.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
            max_connections=64,
        )
        self.client = aioredis.Redis(connection_pool=self._pool)
        storage = limits_aio.storage.RedisStorage(
            "async+redis://",
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix=f"{KEY_PREFIX}:{namespace}:limits",
            connection_pool=self._pool,
        )
        self._limiter = limits_aio.strategies.MovingWindowRateLimiter(storage)
        self._items: dict[tuple[float, int], Any] = {}
        self._limits = limits

    def __repr__(self) -> str:
        return f"RedisLimits({self.describe()!r}, namespace={self.namespace!r})"

    def describe(self) -> str:
        return shown_url(self._url)

    def _key(self, kind: str, name: str) -> str:
        return f"{KEY_PREFIX}:{self.namespace}:{kind}:{name}"

    def _item(self, per_minute: float, burst: int) -> Any:
        item = self._items.get((per_minute, burst))
        if item is None:
            window = max(1, round(burst * 60.0 / per_minute))
            amount = max(1, round(per_minute * window / 60.0))
            item = self._limits.RateLimitItemPerSecond(amount, window)
            self._items[(per_minute, burst)] = item
        return item

    async def check(self) -> None:
        """Raise ``ConfigError`` (naming the URL without its password) unless Redis answers."""
        try:
            await self.client.ping()
        except Exception as exc:
            raise ConfigError(
                f"cannot reach Redis at {self.describe()} ({type(exc).__name__}); start redis-server, fix "
                "router_settings redis_url / redis_host / redis_port / redis_password, or set "
                "redis_optional: true to start on local limits",
                param="redis_url",
            ) from None

    # -- SharedLimits --------------------------------------------------------------------------

    async def take(self, name: str, per_minute: float, burst: int) -> float:
        item = self._item(per_minute, burst)
        if await self._limiter.hit(item, name):
            return 0.0
        stats = await self._limiter.get_window_stats(item, name)
        return max(0.01, float(stats.reset_time) - time.time())

    async def pause(self, name: str, seconds: float) -> None:
        await self._extend(self._key("pause", name), seconds)

    async def paused_for(self, name: str) -> float:
        return await self._left(self._key("pause", name))

    # -- cooldowns -----------------------------------------------------------------------------

    async def cool_down(self, deployment: str, seconds: float) -> None:
        """Every process skips ``deployment`` for ``seconds`` (a longer cooldown already set stays)."""
        await self._extend(self._key("cooldown", deployment), seconds)

    async def cooling(self, deployment: str) -> float:
        """Seconds left of ``deployment``'s cooldown (0.0 if none)."""
        return await self._left(self._key("cooldown", deployment))

    # -- plumbing ------------------------------------------------------------------------------

    async def _extend(self, key: str, seconds: float) -> None:
        ms = int(seconds * 1000)
        if ms <= 0:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(key, 1, px=ms, nx=True)
            pipe.pexpire(key, ms, gt=True)
            await pipe.execute()

    async def _left(self, key: str) -> float:
        ms = await self.client.pttl(key)
        return ms / 1000.0 if ms > 0 else 0.0

    async def aclose(self) -> None:
        await self.client.aclose()
        await self._pool.aclose()


class RedisCooldowns:
    """The router's ``Cooldowns`` (``patchwire.cooldowns``) kept in a ``RedisLimits``' Redis, so every
    replica skips a deployment that another one cooled down. While Redis cannot be reached this
    process's own ``LocalCooldowns`` answer (logged once), and Redis is used again when it answers."""

    def __init__(self, store: RedisLimits) -> None:
        from patchwire.cooldowns import LocalCooldowns

        self.store = store
        self.local = LocalCooldowns()
        self._down = False

    def __repr__(self) -> str:
        return f"RedisCooldowns({self.store.describe()!r})"

    def _keys(self, deployment: str) -> tuple[str, str]:
        return self.store._key("cooldown", deployment), self.store._key("fails", deployment)

    def _failed_over(self, exc: Exception) -> None:
        if not self._down:
            self._down = True
            log.warning(
                "patchwire: shared cooldowns at %s unreachable (%s); this process keeps its own until "
                "it is back",
                self.store.describe(),
                type(exc).__name__,
            )

    def _back(self) -> None:
        if self._down:
            self._down = False
            log.warning("patchwire: shared cooldowns at %s are back", self.store.describe())

    async def cooling(self, deployments: Sequence[str]) -> dict[str, float]:
        if not deployments:
            return {}
        try:
            values = await self.store.client.mget([self._keys(d)[0] for d in deployments])
        except Exception as exc:  # whatever the client raises: keep serving on local state
            self._failed_over(exc)
            return await self.local.cooling(deployments)
        self._back()
        return {d: float(v) for d, v in zip(deployments, values, strict=True) if v is not None}

    async def failed(self, deployment: str, *, allowed_fails: int, cooldown_time: float) -> bool:
        cooldown, fails = self._keys(deployment)
        now = time.time()
        try:
            async with self.store.client.pipeline(transaction=True) as pipe:
                pipe.incr(fails)
                pipe.pexpire(fails, 60_000)
                count = (await pipe.execute())[0]
            async with self.store.client.pipeline(transaction=True) as pipe:
                if count >= allowed_fails:
                    pipe.delete(fails)
                    pipe.set(cooldown, repr(now), px=max(1, int(cooldown_time * 1000)))
                else:  # tried while cooling (nothing else was left): it failed again
                    pipe.set(cooldown, repr(now), xx=True, keepttl=True)
                await pipe.execute()
        except Exception as exc:
            self._failed_over(exc)
            return await self.local.failed(
                deployment, allowed_fails=allowed_fails, cooldown_time=cooldown_time
            )
        self._back()
        return bool(count >= allowed_fails)

    async def succeeded(self, deployment: str) -> None:
        await self.local.succeeded(deployment)
        try:
            await self.store.client.delete(*self._keys(deployment))
        except Exception as exc:
            self._failed_over(exc)
            return
        self._back()
