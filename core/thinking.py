"""Reasoning a model writes inline, ``<think>…</think>`` at the start of its output, split from the answer.

Reasoning models served as plain text generators (DeepSeek-R1, Qwen3 and their fine-tunes) write
their chain of thought first, between ``<think>`` and ``</think>``, then the answer. OpenAI-compatible
servers and LiteLLM return the first part as ``reasoning_content`` and only the answer as ``content``;
so does patchwire. Only a ``<think>`` at the very start counts (leading whitespace aside): the same tag
later in an answer is text the model meant to show.
"""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"


def split_reasoning(text: str) -> tuple[str | None, str]:
    """``(reasoning, answer)`` of a whole output; ``(None, text)`` when it does not start thinking.

    An unclosed ``<think>`` (the output was cut while thinking) is all reasoning.
    """
    stripped = text.lstrip()
    if not stripped.startswith(OPEN):
        return None, text
    body = stripped[len(OPEN) :]
    reasoning, closed, answer = body.partition(CLOSE)
    if not closed:
        return reasoning.strip(), ""
    return reasoning.strip(), answer.lstrip()


class ReasoningSplitter:
    """The same split over a stream of chunks: ``feed`` each chunk, ``end`` once.

    Both return ``(reasoning, answer)`` pieces to emit now (either may be empty). Text that might be
    the start of a tag is held back until the next chunk decides it. Once the output is known not to
    start with ``<think>``, or the reasoning has closed, ``passthrough`` is True and the caller may
    send chunks straight on without calling ``feed``.
    """

    __slots__ = ("_held", "_state", "passthrough")

    def __init__(self) -> None:
        self._held = ""
        #: "start": before the first visible character; "opened": after <think>, before the
        #: reasoning's first visible character; "think": inside; "after": the answer's leading
        #: whitespace (dropped) before its first character.
        self._state = "start"
        self.passthrough = False

    def feed(self, chunk: str) -> tuple[str, str]:
        if self.passthrough:
            return "", chunk
        text = self._held + chunk
        self._held = ""
        if self._state == "start":
            stripped = text.lstrip()
            if not stripped:
                self._held = text
                return "", ""
            if OPEN.startswith(stripped) and len(stripped) < len(OPEN):
                self._held = text  # "<thi": wait for more
                return "", ""
            if not stripped.startswith(OPEN):
                self.passthrough = True
                return "", text
            self._state = "opened"
            text = stripped[len(OPEN) :]
        if self._state == "opened":  # the reasoning's leading whitespace is dropped
            text = text.lstrip()
            if not text:
                return "", ""
            self._state = "think"
        if self._state == "think":
            reasoning, closed, answer = text.partition(CLOSE)
            if not closed:
                # Hold back what may begin the closing tag, and trailing whitespace (dropped if the
                # tag follows), so the streamed reasoning equals the whole output's.
                shown = text[: len(text) - _tail_prefix(text, CLOSE)].rstrip()
                self._held = text[len(shown) :]
                return shown, ""
            self._state = "after"
            return reasoning.rstrip(), self._after(answer)
        return "", self._after(text)

    def _after(self, text: str) -> str:
        answer = text.lstrip()
        if answer:
            self.passthrough = True
        return answer

    def end(self) -> tuple[str, str]:
        """What is still held back when the output ends."""
        held, self._held = self._held, ""
        if self._state == "think":
            return held.rstrip(), ""
        if self._state == "start" and not self.passthrough:
            return "", held
        return "", ""


def _tail_prefix(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could begin ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
