"""A prediction's output as it is produced: its SSE stream, resumed or replaced by polling when cut.

Each ``output`` event is one element of the prediction's ``output`` list, so the number of events
consumed is also an index into that list: after a cut, the stream is resumed with ``Last-Event-ID``,
and if that fails too, polling ``urls.get`` carries on from that index. Either way every chunk reaches
the caller exactly once. A server that ignores ``Last-Event-ID`` and replays from the start is noticed
(the first event's id comes again) and the replayed events are skipped.

``next_batch()`` returns the chunks one network read brought, so the caller's per-chunk work is small
and no await spans a ``yield`` (a deadline scope must not cover the consumer's code).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from patchwire import debug
from patchwire.errors import ProviderError, ResponseTooLargeError
from patchwire.http import read_capped
from patchwire.safetext import upstream_text
from patchwire.sse import ServerSentEvent, SSEDecoder

from .api import CONNECT_TIMEOUT, Backoff, sleep_before
from .errors import http_error, json_or_none, prediction_error
from .output import output_pieces, text_items
from .predictions import POLL_FACTOR, POLL_FIRST, POLL_MAX, TERMINAL, PredictionJob
from .transport import describe

log = logging.getLogger("patchwire")

#: A stream silent this long is treated as cut (and resumed); a cold boot just reconnects now and then.
STREAM_IDLE = 60.0
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=STREAM_IDLE)
#: Reconnects tried (with back-off) before falling back to polling.
MAX_RECONNECTS = 4


class OutputFollower:
    """Delivers a running prediction's output chunks, each once, until it ends."""

    __slots__ = (
        "_backoff",
        "_decoder",
        "_first_id",
        "_interval",
        "_polling",
        "_resp",
        "_resumed",
        "_skip",
        "done",
        "emitted",
        "job",
    )

    def __init__(self, job: PredictionJob, emitted: int = 0) -> None:
        self.job = job
        #: Output elements delivered so far (an index into the prediction's ``output`` list).
        self.emitted = emitted
        self.done = False
        self._decoder = SSEDecoder()
        self._resp: aiohttp.ClientResponse | None = None
        self._first_id: str | None = None
        self._resumed = False
        self._skip = 0
        self._backoff = Backoff(base=0.2, cap=2.0, max_attempts=MAX_RECONNECTS)
        self._polling = job.stream_url is None or emitted > 0
        self._interval = 0.0

    async def next_batch(self) -> list[str] | None:
        """The next chunks (possibly none yet), or None when the prediction has ended well.

        Raises ``ProviderError`` when it failed or was canceled, ``TimeoutError`` at the deadline.
        """
        deadline = self.job.deadline
        while not self.done:
            if self._polling:
                return await self._poll()
            if self._resp is None:
                async with asyncio.timeout_at(deadline):
                    await self._connect()
                continue
            chunk: bytes | None
            reason = ""
            async with asyncio.timeout_at(deadline):
                try:
                    chunk = await self._resp.content.readany()
                except (aiohttp.ClientError, OSError) as exc:
                    # A cut stream (ClientPayloadError) or a silent one (sock_read): resume it.
                    chunk = None
                    reason = describe(exc)
            if not chunk:
                await self._dropped(reason if chunk is None else "stream ended before its done event")
                continue
            batch = self._handle(self._decoder.feed(chunk))
            if batch or self.done:
                return batch
        return None

    async def close(self) -> None:
        resp, self._resp = self._resp, None
        if resp is not None:
            resp.close()

    # -- the stream ----------------------------------------------------------------------------

    async def _connect(self) -> None:
        job = self.job
        assert job.stream_url is not None
        headers = {**job.auth, "Accept": "text/event-stream", "Cache-Control": "no-store"}
        last_id = self._decoder.last_event_id
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        if debug.enabled():
            debug.log_request("replicate", "GET", job.stream_url, headers)
        try:
            resp = await job.session.get(job.stream_url, headers=headers, timeout=STREAM_TIMEOUT)
        except (aiohttp.ClientError, OSError) as exc:
            await self._dropped(f"could not open the stream: {describe(exc)}")
            return
        content_type = resp.headers.get("Content-Type", "")
        if resp.status == 200 and content_type.startswith("text/event-stream"):
            self._resp = resp
            log.debug(
                "patchwire: replicate stream %s opened%s",
                job.prediction_id,
                f" after {last_id}" if last_id else "",
            )
            return
        body = await _read_quietly(resp)
        if resp.status in (401, 403):
            raise http_error(
                resp.status, body, resp.headers, what="the output stream", prediction_id=job.prediction_id
            )
        await self._dropped(f"stream answered {resp.status} {content_type or ''}".rstrip())

    async def _dropped(self, reason: str) -> None:
        """The stream broke before ``done``: reconnect after a back-off, or switch to polling."""
        await self.close()
        log.debug(
            "patchwire: replicate stream %s cut (%s) after %d chunks",
            self.job.prediction_id,
            reason,
            self.emitted,
        )
        if self._backoff.exhausted or not await sleep_before(self.job.deadline, self._backoff.next_delay()):
            log.debug("patchwire: replicate stream %s: polling instead", self.job.prediction_id)
            self._polling = True
            return
        # Keep the last event id, start a fresh parse (a half-read event is discarded).
        last_id = self._decoder.last_event_id
        self._decoder = SSEDecoder()
        self._decoder.last_event_id = last_id
        self._resumed = self.emitted > 0

    def _handle(self, events: list[ServerSentEvent]) -> list[str]:
        out: list[str] = []
        for event in events:
            name = event.event
            if name == "output":
                if self._resumed:
                    self._resumed = False
                    if event.id is not None and event.id == self._first_id:
                        # The server ignored Last-Event-ID and started over: skip what we gave.
                        self._skip = self.emitted - 1
                        continue
                if self._skip:
                    self._skip -= 1
                    continue
                if self._first_id is None:
                    self._first_id = event.id
                out.append(event.data)
                self.emitted += 1
            elif name == "done":
                self._finish(event.data)
                break
            elif name == "error":
                self._fail(event.data)
            # "logs" and unknown events carry nothing for the caller.
        return out

    def _finish(self, data: str) -> None:
        self.done = True
        job = self.job
        reason = _json_field(data, "reason")
        if reason in (None, "", "succeeded"):
            job.observe({"status": "succeeded"})
            return
        status = "failed" if reason == "error" else "canceled"
        job.observe({"status": status})
        raise prediction_error(
            {"id": job.prediction_id, "status": status, "error": "the stream ended with an error"},
            job.label,
        )

    def _fail(self, data: str) -> None:
        self.done = True
        job = self.job
        detail = upstream_text(_json_field(data, "detail") or data or "no error message")
        job.observe({"status": "failed"})
        raise ProviderError(
            f"{job.label}: prediction {job.prediction_id} failed: {detail}",
            provider="replicate",
            prediction_id=job.prediction_id,
            code="prediction_failed",
            body=detail,
        )

    # -- polling -------------------------------------------------------------------------------

    async def _poll(self) -> list[str] | None:
        job = self.job
        if self._interval:
            await asyncio.sleep(self._interval)
        self._interval = min(POLL_MAX, max(POLL_FIRST, self._interval * POLL_FACTOR))
        async with asyncio.timeout_at(job.deadline):
            prediction = await job.get()
        output = prediction.get("output")
        batch: list[str] = []
        terminal = prediction.get("status") in TERMINAL
        if isinstance(output, list) and len(output) > self.emitted:
            batch = text_items(output[self.emitted :], job.label, job.prediction_id)
            self.emitted = len(output)
        if terminal:
            self.done = True
            error = job.result_error(prediction)
            if error is not None:
                raise error
            if not isinstance(output, list) and not self.emitted:
                # A single-string output arrives whole, once the prediction is done.
                batch = output_pieces(output, job.label, job.prediction_id)
                self.emitted = 1
        return batch


#: What of a refused stream's answer is read (for its error message).
ERROR_BODY_LIMIT = 64 * 1024


def _json_field(data: str, key: str) -> Any:
    parsed = json_or_none(data.encode()) if data.startswith("{") else None
    return parsed.get(key) if isinstance(parsed, Mapping) else None


async def _read_quietly(resp: aiohttp.ClientResponse) -> bytes:
    try:
        return await read_capped(resp, ERROR_BODY_LIMIT)
    except (aiohttp.ClientError, OSError, ResponseTooLargeError):
        return b""
    finally:
        resp.release()
