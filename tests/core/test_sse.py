"""The SSE parser: the framing rules LLM streams depend on, however the bytes are split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchwire.errors import ResponseTooLargeError
from patchwire.sse import ServerSentEvent, SSEDecoder


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events + decoder.close()


def test_exactly_one_space_after_data_is_stripped() -> None:
    (event,) = decode(b"event: output\nid: 1:0\ndata:  world\n\n")
    assert (event.event, event.data, event.id) == ("output", " world", "1:0")


def test_data_without_space_is_kept_whole() -> None:
    (event,) = decode(b"data:x\n\n")
    assert event.data == "x"


def test_multiline_data_joins_with_newline() -> None:
    (event,) = decode(
        b"event: output\nid: EVENT_1\ndata: hello,\ndata: this is a new line,\n"
        b"data: and this is a new line too\n\nevent: done\nid: EVENT_2\ndata: {}\n\n"
    )[:1]
    assert event.data == "hello,\nthis is a new line,\nand this is a new line too"


def test_empty_data_line_dispatches_an_empty_chunk() -> None:
    events = decode(b"event: output\ndata: \n\nevent: output\ndata:\n\n")
    assert [e.data for e in events] == ["", ""]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: output\nid: 3\n\n") == []


def test_comments_and_unknown_fields_are_ignored() -> None:
    events = decode(b": keepalive\n\nfoo: bar\nevent: output\ndata: a\n\n")
    assert [(e.event, e.data) for e in events] == [("output", "a")]


def test_default_event_name_is_message() -> None:
    (event,) = decode(b"data: a\n\n")
    assert event.event == "message"


def test_id_persists_and_is_tracked_for_reconnects() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 7:1\ndata: a\n\ndata: b\n\n")
    assert [e.id for e in events] == ["7:1", "7:1"]
    assert decoder.last_event_id == "7:1"


def test_crlf_split_across_reads_is_one_line_break() -> None:
    events = decode(b"data: a\r", b"\ndata: b\r\n\r", b"\n")
    assert [e.data for e in events] == ["a\nb"]


def test_bare_cr_line_endings() -> None:
    assert [e.data for e in decode(b"data: a\rdata: b\r\r")] == ["a\nb"]


def test_byte_order_mark_is_dropped_and_utf8_survives_splits() -> None:
    payload = "data: héllo ✓\n\n".encode()
    cut = payload.index(b"\xc3") + 1  # split inside a multi-byte character
    events = decode(b"\xef\xbb\xbf" + payload[:cut], payload[cut:])
    assert [e.data for e in events] == ["héllo ✓"]


def test_unfinished_event_at_end_of_stream_is_discarded() -> None:
    assert decode(b"data: a\n\ndata: partial") == [ServerSentEvent("message", "a", None)]


chunk_text = st.text(alphabet=st.sampled_from(list("ab \n:é")), max_size=12)


@given(
    chunks=st.lists(chunk_text, min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_split_of_the_bytes_gives_the_same_events(
    chunks: list[str], cuts: list[int], newline: str
) -> None:
    stream = ""
    for i, chunk in enumerate(chunks):
        lines = "".join(f"data: {line}{newline}" for line in chunk.split("\n"))
        stream += f"event: output{newline}id: 1:{i}{newline}{lines}{newline}"
    payload = stream.encode()
    points = sorted({c % (len(payload) + 1) for c in cuts})
    pieces = [payload[a:b] for a, b in zip([0, *points], [*points, len(payload)], strict=True)]
    events = decode(*pieces)
    assert [e.data for e in events] == chunks
    assert [e.id for e in events] == [f"1:{i}" for i in range(len(chunks))]


def test_unicode_line_separators_inside_a_chunk_are_data_not_line_breaks() -> None:
    text = "a\u2028b\x0bc\x1cd\u0085e"
    events = SSEDecoder().feed(f"event: output\nid: 1:0\ndata:  {text}\n\n".encode())
    assert events == [ServerSentEvent("output", " " + text, "1:0")]


# Lines of every kind an event stream may hold, near misses of the common token event among them.
any_line = st.one_of(
    st.builds(lambda v: f"data:{v}", st.text(alphabet="a: \x00é", max_size=4)),
    st.builds(lambda v: f"data: {v}", st.text(alphabet="a: ", max_size=4)),
    st.builds(lambda v: f"event:{v}", st.sampled_from(["", " output", " done", "  x", "output"])),
    st.builds(lambda v: f"id:{v}", st.sampled_from(["", " 1", " 2:0", " a\x00b", "3"])),
    st.sampled_from(["", "", ": comment", "retry: 10", "retry: x", "data", "event", "id", "other: 1"]),
)


# The token event itself (optional event and id lines, one data line, the blank line), with its
# variations: no space, two spaces, empty values.
token_event = st.builds(
    lambda event, event_id, data: [*event, *event_id, f"data:{data}", ""],
    st.sampled_from([[], ["event: output"], ["event:done"], ["event:"], ["event:  x"]]),
    st.sampled_from([[], ["id: 1:0"], ["id:2"], ["id:"], ["id:  3"]]),
    st.sampled_from(["", " ", "  ", " tok", "tok", "  tok", " tok ", " a: b", " é"]),
)
stream_lines = st.lists(
    st.one_of(token_event, token_event, token_event, st.lists(any_line, max_size=3)), max_size=6
)


@settings(max_examples=400)
@given(blocks=stream_lines, newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_a_whole_read_gives_what_the_line_by_line_rules_give(blocks: list[list[str]], newline: str) -> None:
    lines = [line for block in blocks for line in block]
    # Fed byte by byte, every read is one line break at most, so only the line-by-line rules run; fed
    # whole (and in two halves), reads made of common events take the fast path. Both must agree.
    payload = "".join(line + newline for line in lines).encode()
    one_by_one = SSEDecoder()
    expected = [e for i in range(len(payload)) for e in one_by_one.feed(payload[i : i + 1])]
    expected += one_by_one.close()
    for pieces in ([payload], [payload[: len(payload) // 2], payload[len(payload) // 2 :]]):
        decoder = SSEDecoder()
        events = [e for piece in pieces for e in decoder.feed(piece)] + decoder.close()
        assert events == expected
        assert decoder.last_event_id == one_by_one.last_event_id


def test_a_read_of_token_events_gives_each_event_with_its_id() -> None:
    payload = (
        b"event: output\nid: 7:0\ndata: Hel\n\nevent: output\nid: 7:1\ndata:  lo\n\nevent: done\ndata: {}\n\n"
    )
    decoder = SSEDecoder()
    assert decoder.feed(payload) == [
        ServerSentEvent("output", "Hel", "7:0"),
        ServerSentEvent("output", " lo", "7:1"),
        ServerSentEvent("done", "{}", "7:1"),
    ]
    assert decoder.last_event_id == "7:1"


def test_an_oversized_event_in_a_read_of_token_events_is_still_refused() -> None:
    decoder = SSEDecoder(max_event=8)
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b"event: output\nid: 1\ndata: ok\n\nevent: output\nid: 2\ndata: 0123456789\n\n")
