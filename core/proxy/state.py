"""What the proxy's handlers share: the config, the router, the key checker and the requests in flight."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import attrs
from aiohttp import web

from patchwire.metrics import Metrics
from patchwire.proxy.auth import KeyChecker
from patchwire.proxy.config import ProxyConfig
from patchwire.proxy.limits import KeyLimiter
from patchwire.router import Router


@attrs.define(eq=False)
class ProxyState:
    config: ProxyConfig
    router: Router
    checker: KeyChecker
    #: Seconds in-flight requests may take to finish once shutdown begins; then they are cancelled.
    grace: float
    #: Whether the proxy built the router (and so closes it on shutdown).
    owns_router: bool = True
    created: int = attrs.field(factory=lambda: int(time.time()))
    in_flight: set[asyncio.Task[object]] = attrs.field(factory=set)
    draining: bool = False
    #: Set once the grace period is over and what is still in flight is being cancelled: those
    #: requests are answered 503 instead of having their connections dropped.
    cancelling: bool = False
    key_limiter: KeyLimiter = attrs.field(
        default=attrs.Factory(
            lambda self: KeyLimiter(
                max_parallel=self.config.client_limits.max_parallel_requests,
                per_minute=self.config.client_limits.rpm_limit,
            ),
            takes_self=True,
        )
    )
    #: The proxy's metrics (None without prometheus-client).
    metrics: Metrics | None = None

    @property
    def upstream_bases(self) -> tuple[str, ...]:
        """The configured ``api_base`` URLs: internal addresses no answer to a client names."""
        bases = {r.api_base.rstrip("/") for rs in self.config.routes.values() for r in rs if r.api_base}
        return tuple(sorted(bases, key=len, reverse=True))


STATE = web.AppKey("patchwire_proxy_state", ProxyState)


@attrs.define(eq=False)
class RequestRecord:
    """What the request's log line reports, filled in by the handler as it learns it."""

    model: str | None = None
    prediction_id: str | None = None
    stream_error: str | None = None
    #: The configured CORS origin the request came from (its answer carries CORS headers).
    cors_origin: str | None = None


# aiohttp 3.14 wants typed request keys; older versions (>=3.9 is supported) only have strings.
_RECORD: Any = (
    web.RequestKey("patchwire_proxy_record", RequestRecord)
    if hasattr(web, "RequestKey")
    else "patchwire_proxy_record"
)


def start_record(request: web.Request) -> RequestRecord:
    record = RequestRecord()
    request[_RECORD] = record
    return record


def record_of(request: web.Request) -> RequestRecord:
    """The request's record (a detached one if the middleware did not make one)."""
    record = request.get(_RECORD)
    return record if isinstance(record, RequestRecord) else RequestRecord()
