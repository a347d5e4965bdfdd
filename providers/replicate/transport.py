"""The parts of one HTTP exchange with Replicate: its answer, and aiohttp's exceptions turned into two
of our own. (``Api.request`` runs the exchange itself: a coroutine of its own around it would cost on
every call's start and every resume.)

aiohttp's ``ClientResponseError`` carries the request headers (the key among them) in its repr, and its
``ServerTimeoutError`` is a ``TimeoutError`` that would pass for the call's deadline: none of them leaves
``Api.request``, which hands each to ``failure``. What a caller must know is whether the request can
have reached the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from patchwire import debug
from patchwire.errors import BadRequestError

from .errors import json_or_none


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


#: aiohttp's threshold for its "large body as raw bytes" ResourceWarning: a longer body is sent as a
#: stream (``io.BytesIO``).
LARGE_BODY = 1 << 20

#: What an exchange may raise of aiohttp's (and the OS's): ``failure`` turns each into one of ours.
FAILURES = (aiohttp.ClientError, OSError)
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


def failure(exc: BaseException, url: str) -> TransportError:
    """``exc`` (one of ``FAILURES``, raised by an exchange with ``url``) as ours; an invalid URL is
    the caller's mistake, raised as ``BadRequestError``."""
    if isinstance(exc, aiohttp.InvalidURL):
        raise BadRequestError(
            f"cannot reach Replicate at {url.split('?')[0]!r}: not a valid URL; check api_base=",
            param="api_base",
        ) from None
    if isinstance(exc, _NOT_SENT):
        return NotSent(describe(exc), refused=isinstance(exc, aiohttp.ClientConnectorError))
    return Lost(describe(exc))


def log_request(method: str, url: str, headers: Mapping[str, str], data: bytes | None) -> None:
    """The request as a curl command (``patchwire.debug``; only when it is enabled)."""
    debug.log_request("replicate", method, url, headers, data)


def log_answer(method: str, url: str, status: int, body: bytes, seconds: float) -> None:
    """The answer's status and prediction id (``patchwire.debug``; only when it is enabled)."""
    answer = json_or_none(body) if status < 300 else None
    debug.log_answer("replicate", method, url, status, answer, seconds)
