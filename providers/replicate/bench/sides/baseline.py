"""The baseline: the same HTTP calls the Replicate provider makes, by hand, with one aiohttp session.

No framework, no retries, no validation: the floor of what a client must spend to run a prediction.
The create body is the one patchwire sent for the same messages (the harness reads it back from the
simulator), the headers are the provider's, and each mode follows the prediction as the provider does:

- ``wait``: create with ``Prefer: wait=N``; poll ``urls.get`` only if the answer is not terminal;
- ``poll``: create without waiting, then poll ``urls.get`` on the provider's schedule;
- ``stream``: create with ``"stream": true``, then read ``urls.stream``'s server-sent events to ``done``.

This module imports nothing of patchwire's, so it can never drift into measuring the framework.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import aiohttp
import orjson

# The provider's polling schedule (``predictions.POLL_*``; a test keeps the two equal).
POLL_FIRST = 0.1
POLL_FACTOR = 1.5
POLL_MAX = 2.0
TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})


class HTTPError(Exception):
    """A non-2xx answer (the baseline does not retry: a fault is an error)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class PredictionFailed(Exception):
    """The prediction ended in a status other than ``succeeded``."""


def make_session(connections: int) -> aiohttp.ClientSession:
    """A session sized like the router's (``patchwire.http.make_session``)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, limit_per_host=0, ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None),
    )


class BaselineClient:
    """Runs one prediction per ``call()``; returns the time to the first token for streams."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base: str,
        create_path: str,
        key: str,
        inputs: dict[str, Any],
        mode: str,
        prefer_wait: int,
        timeout: float,
    ) -> None:
        self.session = session
        self.mode = mode
        self.url = base.rstrip("/") + create_path
        self.auth = {"Authorization": f"Bearer {key}"}
        body: dict[str, Any] = {"input": inputs}
        if mode == "stream":
            body["stream"] = True
        self.data = orjson.dumps(body)
        self.headers = {
            **self.auth,
            "Content-Type": "application/json",
            "Cancel-After": f"{max(5, math.ceil(timeout) + 5)}s",
        }
        if mode == "wait":
            self.headers["Prefer"] = f"wait={max(1, min(prefer_wait, int(timeout) - 1))}"
        self.stream_headers = {**self.auth, "Accept": "text/event-stream", "Cache-Control": "no-store"}
        self.timeout = timeout

    async def call(self) -> float | None:
        async with asyncio.timeout(self.timeout):
            if self.mode == "stream":
                return await self._stream()
            prediction = await self._json("POST", self.url, self.headers, self.data)
            interval = POLL_FIRST
            while prediction.get("status") not in TERMINAL:
                await asyncio.sleep(interval)
                interval = min(POLL_MAX, interval * POLL_FACTOR)
                prediction = await self._json("GET", prediction["urls"]["get"], self.auth, None)
            if prediction["status"] != "succeeded":
                raise PredictionFailed(prediction["status"])
            "".join(prediction.get("output") or ())  # the text a caller would read
            return None

    async def _json(self, method: str, url: str, headers: dict[str, str], data: bytes | None) -> Any:
        async with self.session.request(method, url, headers=headers, data=data) as resp:
            body = await resp.read()
            if resp.status >= 300:
                raise HTTPError(resp.status)
            return orjson.loads(body)

    async def _stream(self) -> float:
        t0 = time.perf_counter()
        prediction = await self._json("POST", self.url, self.headers, self.data)
        first: float | None = None
        parts: list[str] = []
        async with self.session.get(prediction["urls"]["stream"], headers=self.stream_headers) as resp:
            if resp.status >= 300:
                raise HTTPError(resp.status)
            buffer = b""
            while True:
                chunk = await resp.content.readany()
                if not chunk:
                    raise aiohttp.ClientPayloadError("stream ended before its done event")
                buffer += chunk
                *blocks, buffer = buffer.split(b"\n\n")
                for block in blocks:
                    event, data = _parse(block)
                    if event == "output":
                        if first is None:
                            first = time.perf_counter() - t0
                        parts.append(data)
                    elif event == "done":
                        reason = orjson.loads(data).get("reason") if data.startswith("{") else None
                        if reason not in (None, "", "succeeded"):
                            raise PredictionFailed(str(reason))
                        "".join(parts)
                        return first if first is not None else time.perf_counter() - t0
                    elif event == "error":
                        raise PredictionFailed(data)


def _parse(block: bytes) -> tuple[str, str]:
    """One server-sent event's name and data (``data:`` loses exactly one leading space)."""
    event = "message"
    data: list[str] = []
    for line in block.decode().split("\n"):
        if line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
        elif line.startswith("event:"):
            event = line[6:].strip()
    return event, "\n".join(data)
