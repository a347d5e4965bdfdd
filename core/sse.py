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

import re
from collections.abc import AsyncIterator

import aiohttp

from patchwire.errors import ResponseTooLargeError

__all__ = ["MAX_EVENT", "MAX_LINE", "SSEDecoder", "ServerSentEvent", "iter_events"]

#: The longest line of an event stream (bytes, before its line break). A token is a few bytes; a line
#: that never ends is an upstream gone wrong, and waiting for its end would hold it all in memory.
MAX_LINE = 1024 * 1024
#: The most data one event may gather (characters, over all its ``data:`` lines) before its blank line.
MAX_EVENT = 4 * 1024 * 1024


#: The event an LLM stream sends per token: an optional ``event:`` and ``id:`` line, one ``data:`` line,
#: the blank line (line breaks already made ``\n``). A read made only of these is matched whole (in C);
#: anything else (comments, ``retry:``, several data lines, a NUL in an id) takes the line-by-line rules.
_COMMON_EVENT = re.compile(r"(?:event: ?([^\n]*)\n)?(?:id: ?([^\n\x00]*)\n)?data: ?([^\n]*)\n\n")


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
    """Incremental decoder: ``feed(bytes) -> list[ServerSentEvent]``; ``close()`` at end of stream.

    A line longer than ``max_line`` bytes or an event gathering more than ``max_event`` characters of
    data raises ``ResponseTooLargeError``. A line's pieces are kept as a list until its line break
    arrives, so an endless line costs one copy, not one per network read.
    """

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_pending",
        "_pending_cr",
        "_pending_size",
        "_retry",
        "_started",
        "last_event_id",
        "max_event",
        "max_line",
    )

    def __init__(self, *, max_line: int | None = None, max_event: int | None = None) -> None:
        self.max_line = MAX_LINE if max_line is None else max_line
        self.max_event = MAX_EVENT if max_event is None else max_event
        #: The start of a line whose break has not arrived yet, as the reads brought it.
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._data_size = 0
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
        cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if cut < 0:
            if chunk:
                self._pending.append(chunk)
                self._pending_size += len(chunk)
                if self._pending_size > self.max_line:
                    raise self._too_large(f"a line over {self.max_line} bytes", "MAX_LINE")
            return []
        if self._pending:
            cut += self._pending_size
            self._pending.append(chunk)
            buffer = b"".join(self._pending)
        else:
            buffer = chunk
        rest = buffer[cut + 1 :]
        self._pending = [rest] if rest else []
        self._pending_size = len(rest)
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
        events: list[ServerSentEvent] = []
        pos, end = 0, len(text)
        if self._data or self._event:  # the rest of an event an earlier read began
            pos = self._one_event_by_the_rules(text, 0, events)
        while pos < end:  # between events: common ones at once, any other one by the line rules
            pos = self._common_events(text, pos, events)
            if pos < end:
                pos = self._one_event_by_the_rules(text, pos, events)
        return events

    def _one_event_by_the_rules(self, text: str, pos: int, events: list[ServerSentEvent]) -> int:
        """The lines from ``pos`` to the blank line that ends their event (or to the end of ``text``)
        read by the line rules; returns where they end. Only those lines are copied, so a read that
        alternates common and other events costs its length once."""
        stop = text.find("\n\n", pos)
        stop = len(text) if stop < 0 else stop + 2
        self._read_lines(text[pos:stop], events)
        return stop

    def _read_lines(self, text: str, events: list[ServerSentEvent]) -> None:
        """Every line of ``text`` (whole lines, each ending in ``\\n``) by the WHATWG rules."""
        lines = text.split("\n")
        lines.pop()  # the text ends with a line break: the last piece is not a line
        data = self._data
        for line in lines:
            # The lines of almost every LLM event, inline; the rest takes the general path.
            if line.startswith("data:"):
                value = line[6:] if line[5:6] == " " else line[5:]
                data.append(value)
                self._data_size += len(value) + 1
                if self._data_size > self.max_event:
                    raise self._too_large(f"an event over {self.max_event} characters", "MAX_EVENT")
            elif not line:
                if data:
                    events.append(
                        ServerSentEvent(
                            self._event or "message", "\n".join(data), self.last_event_id, self._retry
                        )
                    )
                    data = self._data = []
                    self._data_size = 0
                self._event = ""
            elif line.startswith("event:"):
                self._event = line[7:] if line[6:7] == " " else line[6:]
            elif line.startswith("id:") and "\x00" not in line:
                self.last_event_id = line[4:] if line[3:4] == " " else line[3:]
            else:
                self._line(line, events)
                data = self._data

    def _common_events(self, text: str, pos: int, events: list[ServerSentEvent]) -> int:
        """Adds the common events (``_COMMON_EVENT``) from ``pos`` on, and returns where they end (an
        event over ``max_event`` is left to the line rules, which refuse it)."""
        match = _COMMON_EVENT.match
        end, limit = len(text), self.max_event
        while pos < end:
            found = match(text, pos)
            if found is None:
                break
            event, event_id, data = found.groups()
            if len(data) >= limit:
                break
            if event_id is not None:
                self.last_event_id = event_id
            events.append(ServerSentEvent(event or "message", data, self.last_event_id, self._retry))
            pos = found.end()
        return pos

    def close(self) -> list[ServerSentEvent]:
        """End of stream: a final line without its line break still counts; an event that never
        got its blank line is discarded, as the spec says."""
        events: list[ServerSentEvent] = []
        if self._pending:
            self._line(b"".join(self._pending).decode("utf-8", "replace"), events)
            self._pending = []
            self._pending_size = 0
        self._event = ""
        self._data = []
        self._data_size = 0
        return events

    @staticmethod
    def _too_large(what: str, name: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"the upstream's event stream sent {what} (patchwire.sse.{name}); the upstream is broken "
            "or is not the API it should be"
        )

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
            self._data_size += len(value) + 1
            if self._data_size > self.max_event:
                raise self._too_large(f"an event over {self.max_event} characters", "MAX_EVENT")
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
        self._data_size = 0


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
