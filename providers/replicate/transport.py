"""One HTTP exchange with Replicate, with aiohttp's exceptions turned into two of our own.

aiohttp's ``ClientResponseError`` carries the request headers (the key among them) in its repr, and its
``ServerTimeoutError`` is a ``TimeoutError`` that would pass for the call's deadline: nothing of aiohttp's
leaves this module. What a caller must know is whether the request can have reached the server.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from patchwire import debug
from patchwire.errors import BadRequestError
from patchwire.http import read_capped

from .errors import json_or_none


def _logged_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


class TransportError(Exception):
    """The exchange failed without an HTTP answer. ``reason`` names aiohttp's error (no headers)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotSent(TransportError):
    """The connection failed before the request was sent: nothing reached the server. ``refused``:
    the host answered no (refused, unreachable, no such name), as opposed to a connect timeout."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.refused = refused


class Lost(TransportError):
    """The request may have reached the server, and no (whole) answer came back."""


_UNPARSED: Any = object()


class Answer:
    """A whole HTTP answer: status, headers and body bytes."""

    __slots__ = ("_json", "body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self._json = _UNPARSED

    def json(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON (parsed once)."""
        if self._json is _UNPARSED:
            self._json = json_or_none(self.body)
        return self._json


def describe(exc: BaseException) -> str:
    """A safe one-line description of an aiohttp error (never its repr, which may hold headers)."""
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return f"{type(exc).__name__} (no answer in time)"
    if isinstance(exc, aiohttp.ClientOSError) and exc.strerror:
        return f"{type(exc).__name__} ({exc.strerror})"
    return type(exc).__name__


#: aiohttp's threshold for its "large body as raw bytes" ResourceWarning.
LARGE_BODY = 1 << 20

_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: Mapping[str, str],
    timeout: aiohttp.ClientTimeout,
    data: bytes | None = None,
) -> Answer:
    body: bytes | io.BytesIO | None = data
    if data is not None and len(data) > LARGE_BODY:
        body = io.BytesIO(data)  # aiohttp warns (ResourceWarning) on raw bytes bodies over 1 MiB
    verbose = debug.enabled()
    if verbose:
        debug.log_request("replicate", method, url, headers, data)
        started = time.monotonic()
    try:
        async with session.request(method, url, headers=headers, data=body, timeout=timeout) as resp:
            body = await read_capped(resp)
            if verbose:
                answer = _logged_json(body) if resp.status < 300 else None
                debug.log_answer("replicate", method, url, resp.status, answer, time.monotonic() - started)
            return Answer(resp.status, resp.headers, body)
    except aiohttp.InvalidURL:
        raise BadRequestError(
            f"cannot reach Replicate at {url.split('?')[0]!r}: not a valid URL; check api_base=",
            param="api_base",
        ) from None
    except _NOT_SENT as exc:
        raise NotSent(describe(exc), refused=isinstance(exc, aiohttp.ClientConnectorError)) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise Lost(describe(exc)) from None
