"""The SSE parser: the framing rules LLM streams depend on, however the bytes are split."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

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
