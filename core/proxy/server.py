"""The proxy's HTTP connections: how many, how long a client may take, and malformed requests.

aiohttp.web by itself keeps an idle keep-alive connection for an hour, gives a client that trickles its
headers a byte at a time all that hour, opens as many connections as the file descriptors allow, and
answers a request its parser refuses (a control character in a header, a line over 8,190 bytes) with a
plain-text 400 echoing the offending header — the key in it — after logging it with a traceback. Here:

- a request head must arrive within ``header_timeout`` of its first byte (of the connection's start for
  the first request), or the client gets a 408 and the connection closes;
- an idle keep-alive connection closes after ``keepalive_timeout`` (aiohttp's own timer);
- past ``max_connections`` open connections, or ``max_connections_per_ip`` from one address, a new
  connection is answered 503 and closed before anything is parsed;
- a request the HTTP parser refuses gets an OpenAI-shaped 400, and the log names only the kind of error.

The body's deadline (``body_timeout``) is kept where the body is read (the handlers).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from patchwire.proxy.error_responses import error_body
from patchwire.proxy.limits import ClientLimits
from patchwire.safetext import escape

log = logging.getLogger("patchwire.proxy")

#: How long a request whose body was not read (refused, timed out) may still send it before the
#: connection closes (aiohttp's default is 10 s of reading whatever a slow client sends).
LINGER = 1.0


class ConnectionCount:
    """Open client connections, in total and per peer address."""

    def __init__(self, limits: ClientLimits) -> None:
        self.limits = limits
        self.total = 0
        self.by_ip: dict[str, int] = {}

    def admit(self, ip: str) -> str | None:
        """Count a new connection from ``ip``; the reason it is refused, or None."""
        if self.total >= self.limits.max_connections:
            return (
                f"the proxy has {self.total} connections open, its limit "
                "(general_settings.max_client_connections); retry shortly"
            )
        if self.by_ip.get(ip, 0) >= self.limits.max_connections_per_ip:
            return (
                f"this address has {self.by_ip[ip]} connections open, the limit per address "
                "(general_settings.max_client_connections_per_ip); reuse connections or close some"
            )
        self.total += 1
        self.by_ip[ip] = self.by_ip.get(ip, 0) + 1
        return None

    def release(self, ip: str) -> None:
        self.total -= 1
        left = self.by_ip.get(ip, 0) - 1
        if left > 0:
            self.by_ip[ip] = left
        else:
            self.by_ip.pop(ip, None)


def raw_response(status: int, reason: str, message: str, type_: str) -> bytes:
    """A complete HTTP/1.1 error response for a connection no request handler will answer."""
    body = error_body(message, type_)
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection handler with a connection cap, a header deadline and parser errors in the
    OpenAI shape (relies on aiohttp's ``_messages`` / ``_request_in_progress``, stable since 3.9)."""

    __slots__ = ("_admitted", "_count", "_head_timer", "_ip", "_limits")

    def __init__(self, manager: web.Server, *, count: ConnectionCount, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._count = count
        self._limits = count.limits
        self._ip = ""
        self._admitted = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        refused = self._count.admit(self._ip)
        if refused is not None:
            log.warning("refused a connection from %s: too many connections", escape(self._ip))
            tcp = transport
            assert isinstance(tcp, asyncio.WriteTransport)
            tcp.write(raw_response(503, "Service Unavailable", refused, "service_unavailable_error"))
            tcp.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_timer()
        if not self._admitted:
            return
        self._admitted = False
        self._count.release(self._ip)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages or self._request_in_progress:
            self._disarm_head_timer()  # a whole head arrived (or this is a body being read)
        elif self._head_timer is None:
            self._arm_head_timer()  # the first bytes of the next request on this connection

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self._loop.call_later(self._limits.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._messages or self._request_in_progress or self.transport is None:
            return
        transport = self.transport
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(
            raw_response(
                408,
                "Request Timeout",
                f"the request head did not arrive within {self._limits.header_timeout:g}s "
                "(general_settings.client_header_timeout)",
                "timeout_error",
            )
        )
        self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        # The parser's message quotes the offending line — a header holding a key: log only its kind.
        log.info("refused a malformed HTTP request from %s: %s", escape(request.remote), type(exc).__name__)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot answer the malformed request")
        response = web.Response(
            status=400,
            body=error_body(
                "malformed HTTP request: a header or the request line has a control character, is "
                "over 8190 bytes, or is not HTTP/1.1; check the Authorization header",
                "invalid_request_error",
                code="malformed_request",
            ),
            content_type="application/json",
        )
        response.force_close()
        return response


class GuardedServer(web.Server):
    """aiohttp's server, making ``GuardedRequestHandler``s that share one connection count."""

    def __init__(self, inner: web.Server, count: ConnectionCount) -> None:
        super().__init__(
            inner.request_handler,
            request_factory=inner.request_factory,
            handler_cancellation=inner.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **inner._kwargs,
        )
        self.count = count

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, count=self.count, **self._kwargs)


class GuardedAppRunner(web.AppRunner):
    """``web.AppRunner`` serving through a ``GuardedServer`` with the given limits."""

    def __init__(self, app: web.Application, limits: ClientLimits, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", limits.keepalive_timeout)
        kwargs.setdefault("lingering_time", LINGER)
        super().__init__(app, **kwargs)
        self.count = ConnectionCount(limits)

    async def _make_server(self) -> web.Server:
        return GuardedServer(await super()._make_server(), self.count)
