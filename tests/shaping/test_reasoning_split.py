"""Inline ``<think>…</think>`` reasoning: split from the answer, whole and streamed, the same way."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from patchwire.thinking import ReasoningSplitter, split_reasoning


def streamed(pieces: list[str]) -> tuple[str, str]:
    splitter = ReasoningSplitter()
    reasoning, answer = "", ""
    for piece in pieces:
        r, a = splitter.feed(piece)
        reasoning += r
        answer += a
    r, a = splitter.end()
    return reasoning + r, answer + a


def test_whole_output() -> None:
    assert split_reasoning("<think>\nLet me see.\n</think>\n\nParis.") == ("Let me see.", "Paris.")
    assert split_reasoning("  <think>a</think>b") == ("a", "b")
    assert split_reasoning("Paris.") == (None, "Paris.")
    # Only a tag at the start counts: later it is text the model meant to show.
    assert split_reasoning("Use <think> tags</think> like this") == (
        None,
        "Use <think> tags</think> like this",
    )
    # Cut while thinking: all of it is reasoning, no answer.
    assert split_reasoning("<think>still going") == ("still going", "")
    assert split_reasoning("") == (None, "")


def test_stream_with_tags_split_across_chunks() -> None:
    pieces = ["<th", "ink>", "Let me", " see.\n</th", "ink>", "\n\n", "Par", "is."]
    assert streamed(pieces) == ("Let me see.", "Paris.")


def test_stream_without_reasoning_passes_through_at_once() -> None:
    splitter = ReasoningSplitter()
    assert splitter.feed("Hello") == ("", "Hello")
    assert splitter.passthrough
    assert splitter.feed(" <think>") == ("", " <think>")


def test_stream_holds_back_only_a_possible_tag() -> None:
    splitter = ReasoningSplitter()
    assert splitter.feed("<") == ("", "")
    assert splitter.feed("b>bold") == ("", "<b>bold")


def assert_stream_equals_whole(text: str, cuts: list[int]) -> None:
    """Fed in pieces of the sizes in ``cuts`` (and the rest), the splitter gives what the whole text
    gives."""
    pieces, rest = [], text
    for size in cuts:
        pieces.append(rest[:size])
        rest = rest[size:]
    pieces.append(rest)
    reasoning, content = split_reasoning(text)
    assert streamed(pieces) == (reasoning or "", content)


@given(
    st.sampled_from(["", " ", "\n"]),
    st.text(alphabet="ab <>/\nthink", max_size=30),
    st.text(alphabet="ab <>/\nthink", max_size=30),
    st.booleans(),
    st.lists(st.integers(min_value=1, max_value=12), max_size=12),
)
def test_stream_equals_whole(lead: str, thought: str, answer: str, closed: bool, cuts: list[int]) -> None:
    text = f"{lead}<think>{thought}" + (f"</think>{answer}" if closed else "")
    assert_stream_equals_whole(text, cuts)


@given(st.text(max_size=40), st.lists(st.integers(min_value=1, max_value=8), max_size=8))
def test_stream_equals_whole_any_text(text: str, cuts: list[int]) -> None:
    assert_stream_equals_whole(text, cuts)
