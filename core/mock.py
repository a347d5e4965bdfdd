"""``mock_response=``: answer a call with a given text, or raise a given error, with no network.

For users' own tests (LiteLLM's option of the same name): the call is checked as usual — model string,
messages, parameters — and then, instead of reaching the provider, returns the text as a
``ChatResponse`` (or, with ``stream=True``, a ``Stream`` of chunks, one per word) or raises the exception.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from patchwire.errors import RateLimitError
from patchwire.types import ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Delta, Message, Usage

#: Strings that raise instead of answering (LiteLLM's spelling works too).
RAISING = {
    "patchwire.RateLimitError": lambda: RateLimitError("mock_response: rate limited (a test)"),
    "litellm.RateLimitError": lambda: RateLimitError("mock_response: rate limited (a test)"),
}


def _usage(request: ChatRequest, text: str) -> Usage:
    prompt = sum((len(m.text) + 3) // 4 for m in request.messages)
    completion = len(text.split())
    return Usage(prompt, completion, prompt + completion)


def mock_result(request: ChatRequest, mock: Any) -> ChatResponse | AsyncIterator[ChatChunk]:
    """The mocked answer to ``request`` (see the module docstring); raises when ``mock`` is an error."""
    if isinstance(mock, BaseException):
        raise mock
    raising = RAISING.get(mock)
    if raising is not None:
        raise raising()
    text = str(mock)
    pid = f"mock-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if not request.stream:
        return ChatResponse(
            id=pid,
            created=created,
            model=request.model,
            choices=(Choice(0, Message("assistant", text)),),
            usage=_usage(request, text),
        )
    return _chunks(request, text, pid, created)


async def _chunks(request: ChatRequest, text: str, pid: str, created: int) -> AsyncIterator[ChatChunk]:
    model = request.model
    yield ChatChunk(pid, created, model, (ChunkChoice(0, Delta(role="assistant", content="")),))
    for piece in re.findall(r"\s*\S+|\s+$", text):
        yield ChatChunk(pid, created, model, (ChunkChoice(0, Delta(content=piece)),))
    yield ChatChunk(pid, created, model, (ChunkChoice(0, Delta(), finish_reason="stop"),))
    if request.include_usage:
        yield ChatChunk(pid, created, model, (), usage=_usage(request, text))
