"""A server-sent events parser (the WHATWG ``text/event-stream`` rules), fed bytes as they arrive.

Rules that matter to LLM streams: exactly one space after ``data:`` is stripped, so a chunk keeps its
own leading spaces; several ``data:`` lines join with ``\\n``; an event with an empty ``data:`` line
still dispatches (with data ``""``); lines end in ``\\n``, ``\\r\\n`` or ``\\r``, also when the
``\\r`` and ``\\n`` arrive in different network reads; comments (``:``) are ignored; ``id`` persists
across events (``last_event_id``), as a reconnecting client must send it back.

``SSEDecoder.feed`` returns the events completed by one network read: a reader awaits one read and
then handles a batch, so the per-event cost is a few string operations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

__all__ = ["SSEDecoder", "ServerSentEvent", "iter_events"]


class ServerSentEvent:
    """One dispatched event. ``event`` defaults to ``"message"``; ``id`` is the last event id in
    force when it was dispatched (``None`` if the stream never sent one)."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(self, event: str, data: str, id: str | None, retry: int | None = None) -> None:
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.event, self.data, self.id, self.retry) == (
            other.event,
            other.data,
            other.id,
            other.retry,
        )

    __hash__ = None  # type: ignore[assignment]


class SSEDecoder:
    """Incremental decoder: ``feed(bytes) -> list[ServerSentEvent]``; ``close()`` at end of stream."""

    __slots__ = ("_buffer", "_data", "_event", "_pending_cr", "_retry", "_started", "last_event_id")

    def __init__(self) -> None:
        self._buffer = b""
        self._pending_cr = False
        self._started = False
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None
        #: The id the stream last set (send it back as ``Last-Event-ID`` when reconnecting).
        self.last_event_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._pending_cr:
            # A "\r" ended the previous read; a "\n" opening this one belongs to the same line break.
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        cut = max(buffer.rfind(b"\n"), buffer.rfind(b"\r"))
        if cut < 0:
            self._buffer = buffer
            return []
        self._buffer = buffer[cut + 1 :]
        if buffer[cut] == 13:  # b"\r"
            self._pending_cr = True
        complete = buffer[: cut + 1]
        if not self._started:
            self._started = True
            if complete.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark opens the stream
                complete = complete[3:]
        # One decode for the whole read: the cut is at a line break, and no UTF-8 sequence contains
        # one, so no character is split. str.splitlines would also split on U+2028 and friends, which
        # may sit inside a chunk; only CR and LF end a line here.
        text = complete.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        lines.pop()  # the text ends with a line break: the last piece is not a line
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            # The lines of almost every LLM event, inline; the rest takes the general path.
            if line.startswith("data:"):
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif not line:
                if data:
                    events.append(
                        ServerSentEvent(
                            self._event or "message", "\n".join(data), self.last_event_id, self._retry
                        )
                    )
                    data = self._data = []
                self._event = ""
            elif line.startswith("event:"):
                self._event = line[7:] if line[6:7] == " " else line[6:]
            elif line.startswith("id:") and "\x00" not in line:
                self.last_event_id = line[4:] if line[3:4] == " " else line[3:]
            else:
                self._line(line, events)
                data = self._data
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of stream: a final line without its line break still counts; an event that never
        got its blank line is discarded, as the spec says."""
        events: list[ServerSentEvent] = []
        if self._buffer:
            self._line(self._buffer.decode("utf-8", "replace"), events)
            self._buffer = b""
        self._event = ""
        self._data = []
        return events

    def _line(self, line: str, events: list[ServerSentEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line[0] == ":":
            return
        field, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\x00" not in value:
                self.last_event_id = value
        elif field == "retry":
            if value.isdigit():
                self._retry = int(value)
        # Other field names are ignored.

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        data = self._data
        if not data:
            self._event = ""
            return
        events.append(
            ServerSentEvent(self._event or "message", "\n".join(data), self.last_event_id, self._retry)
        )
        self._event = ""
        self._data = []


async def iter_events(
    content: aiohttp.StreamReader, decoder: SSEDecoder | None = None
) -> AsyncIterator[ServerSentEvent]:
    """Every event of a response body (``response.content``), as it arrives."""
    decoder = decoder if decoder is not None else SSEDecoder()
    async for chunk in content.iter_any():
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event
