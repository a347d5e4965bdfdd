"""What the proxy allows one client: time to send a request, connections, and calls per key.

Every bound here has a default (see ``ClientLimits``) and a ``general_settings`` key to change it.
"""

from __future__ import annotations

import hashlib
import time

import attrs

from patchwire.errors import RateLimitError


@attrs.frozen
class ClientLimits:
    """Bounds on what a client may hold or take; ``general_settings`` keys in brackets."""

    #: Seconds from a request's first byte (or the connection's start) to its complete head
    #: [client_header_timeout]. A client trickling headers is answered 408 and disconnected.
    header_timeout: float = 10.0
    #: Seconds to receive the whole request body [client_body_timeout].
    body_timeout: float = 30.0
    #: Seconds an idle keep-alive connection stays open [keepalive_timeout].
    keepalive_timeout: float = 15.0
    #: Open client connections in total [max_client_connections]; over it a new one is answered 503.
    max_connections: int = 1024
    #: Open client connections from one IP address [max_client_connections_per_ip].
    max_connections_per_ip: int = 512
    #: Calls in flight per API key [max_parallel_requests]; None: no per-key limit.
    max_parallel_requests: int | None = None
    #: Calls per minute per API key [rpm_limit]; None: no per-key limit.
    rpm_limit: float | None = None
    #: Browser origins allowed to call the proxy (CORS) [cors_origins], e.g. "https://app.example".
    cors_origins: tuple[str, ...] = ()
    #: Host names a proxy without keys answers besides loopback ones [allowed_hosts].
    allowed_hosts: tuple[str, ...] = ()


@attrs.define
class _Bucket:
    tokens: float
    stamp: float
    in_flight: int = 0


class KeyLimiter:
    """Per-key calls in flight and calls per minute. Over a limit the call is refused at once with a
    429 (a proxy client retries; queueing here would only move the wait out of its deadline).
    Keys are the configured ones (the check runs after authentication), so the table is bounded."""

    def __init__(self, *, max_parallel: int | None, per_minute: float | None) -> None:
        self.max_parallel = max_parallel
        self.per_minute = per_minute
        self._buckets: dict[bytes, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.max_parallel is not None or self.per_minute is not None

    def acquire(self, key: str | None) -> bytes:
        """Take a place for one call of ``key`` (None: the keyless proxy's one shared client); raises
        ``RateLimitError`` when the key is over a limit. Give the returned token to ``release``."""
        ident = hashlib.sha256((key or "").encode("utf-8", "surrogatepass")).digest()
        now = time.monotonic()
        burst = float(self.per_minute) if self.per_minute is not None else 0.0
        bucket = self._buckets.get(ident)
        if bucket is None:
            bucket = self._buckets[ident] = _Bucket(tokens=burst, stamp=now)
        if self.max_parallel is not None and bucket.in_flight >= self.max_parallel:
            raise RateLimitError(
                f"this API key already has {bucket.in_flight} requests in flight, its limit "
                "(general_settings.max_parallel_requests); wait for one to finish",
                retry_after=1.0,
                code="max_parallel_requests",
            )
        if self.per_minute is not None:
            rate = self.per_minute / 60.0
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens < 1.0:
                raise RateLimitError(
                    f"this API key is over its {self.per_minute:g} requests a minute "
                    "(general_settings.rpm_limit); retry after the Retry-After seconds",
                    retry_after=(1.0 - bucket.tokens) / rate,
                    code="rpm_limit",
                )
            bucket.tokens -= 1.0
        bucket.in_flight += 1
        return ident

    def release(self, ident: bytes) -> None:
        bucket = self._buckets.get(ident)
        if bucket is not None:
            bucket.in_flight -= 1
