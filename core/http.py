"""One aiohttp ClientSession per event loop, closed before its loop ends.

Scripts call ``asyncio.run(acompletion(...))`` again and again, each on a new loop, and a session may
only be used on the loop that made it. Each loop gets its own session, and a small async generator
started on that loop closes it: ``asyncio.run`` (and every runner that calls ``shutdown_asyncgens``)
finalises the generator before closing the loop, so no "Unclosed client session" warning is left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable

import aiohttp
import orjson

from patchwire.errors import ResponseTooLargeError

#: The largest upstream response body read into memory (bytes). A prediction's JSON with a long output
#: and its logs is far smaller; a body beyond it fails the call with ``ResponseTooLargeError``.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


def read_capped(resp: aiohttp.ClientResponse, limit: int | None = None) -> Awaitable[bytes]:
    """The whole body of ``resp`` (to await), refusing (``ResponseTooLargeError``) one over ``limit``
    bytes (default ``MAX_RESPONSE_BYTES``) before holding more than that in memory."""
    limit = MAX_RESPONSE_BYTES if limit is None else limit
    declared = resp.content_length
    if declared is not None:
        if declared > limit:
            raise _too_large(f"declares {declared} bytes", limit)
        if "Content-Encoding" not in resp.headers:
            # The parser stops at the declared length, so the body cannot outgrow it: read it at once
            # (aiohttp's own read, awaited by the caller: no coroutine of ours in between).
            # A compressed one can outgrow it: it is measured as it is inflated, below.
            return resp.read()
    return _read_measured(resp, limit)


async def _read_measured(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    body = bytearray()
    async for chunk in resp.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise _too_large("is still going", limit)
    return bytes(body)


def _too_large(what: str, limit: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"the upstream's answer {what}, over the {limit}-byte limit for a response body "
        "(patchwire.http.MAX_RESPONSE_BYTES); the upstream is broken or is not the API it should be"
    )


async def _close_at_loop_end(
    session: aiohttp.ClientSession, forget: Callable[[], object]
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        forget()
        await session.close()


def _start(gen: AsyncGenerator[None, None]) -> None:
    # Run the generator to its first ``yield`` without awaiting: that registers it with the running
    # loop's shutdown_asyncgens(), and nothing before the yield suspends.
    step = gen.__anext__()
    try:
        step.send(None)
    except StopIteration:
        pass


class SessionPool:
    """Hands out the running loop's session, making it (and its closer) on first use."""

    def __init__(self, factory: Callable[[], aiohttp.ClientSession]) -> None:
        self._factory = factory
        self._sessions: dict[
            asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, AsyncGenerator[None, None]]
        ] = {}

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(loop)
        if entry is not None and not entry[0].closed:
            return entry[0]
        session = self._factory()
        # The session holds its loop, so a weak key alone would never die: drop the entry at loop end.
        closer = _close_at_loop_end(session, lambda: self._sessions.pop(loop, None))
        _start(closer)
        self._sessions[loop] = (session, closer)
        return session

    def has_session(self) -> bool:
        """Whether the running loop has an open session."""
        entry = self._sessions.get(asyncio.get_running_loop())
        return entry is not None and not entry[0].closed

    async def close(self) -> None:
        """Close the running loop's session now (``Router.aclose``)."""
        loop = asyncio.get_running_loop()
        entry = self._sessions.pop(loop, None)
        if entry is not None:
            session, closer = entry
            await closer.aclose()
            await session.close()


def default_connector(limit: int) -> aiohttp.TCPConnector:
    """A connector sized on purpose (aiohttp's default of 100 would cap concurrency silently)."""
    return aiohttp.TCPConnector(limit=limit, limit_per_host=0, ttl_dns_cache=300)


def make_session(limit: int) -> aiohttp.ClientSession:
    # No total timeout: aiohttp's default total=300 would kill long streams. Providers set
    # sock_connect/sock_read per request and the caller's deadline bounds the call.
    return aiohttp.ClientSession(
        connector=default_connector(limit),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None),
        json_serialize=lambda obj: orjson.dumps(obj).decode(),
        raise_for_status=False,
    )
