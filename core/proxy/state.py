"""What the proxy's handlers share: the config, the router, the key checker and the requests in flight."""

from __future__ import annotations

import asyncio
import time

import attrs
from aiohttp import web
from patchwire.proxy.auth import KeyChecker
from patchwire.proxy.config import ProxyConfig
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


STATE = web.AppKey("patchwire_proxy_state", ProxyState)
