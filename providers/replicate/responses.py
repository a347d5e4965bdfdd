"""Finished predictions and streamed output as OpenAI-shaped objects, built with their constructors.

Usage comes from the prediction's ``metrics`` (``input_token_count``, ``output_token_count``), which
Replicate's official LLMs report. Where they are missing, it is estimated without a tokenizer: about
four characters per token for the prompt, and one token per output chunk (Replicate's LLMs stream one
token, or a few, per chunk).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from patchwire.plugins.mappers.names import MAX_TOKENS
from patchwire.thinking import OPEN as THINK_OPEN
from patchwire.thinking import split_reasoning
from patchwire.types import ChatChunk, ChatResponse, Choice, ChunkChoice, Delta, Message, Usage

from .output import output_text


def finish_reason(output_tokens: int | None, inputs: Mapping[str, Any]) -> str:
    """``"length"`` when the output reached the requested maximum (the first of the ``MAX_TOKENS``
    inputs given as a whole number), else ``"stop"``."""
    if output_tokens is not None:
        for name in MAX_TOKENS:
            limit = inputs.get(name)
            if limit.__class__ is int or (isinstance(limit, int) and not isinstance(limit, bool)):
                return "length" if output_tokens >= limit else "stop"
    return "stop"


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _count(metrics: Mapping[str, Any], key: str) -> int | None:
    value = metrics.get(key)
    if value.__class__ is int:  # as JSON gives it: decided without the general checks
        return value
    return _number(value)


def _number(value: Any) -> int | None:
    """A token count as a whole number, or None when it is not a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return None


def output_tokens(prediction: Mapping[str, Any]) -> int | None:
    metrics = prediction.get("metrics")
    if isinstance(metrics, Mapping):
        count = _count(metrics, "output_token_count")
        if count is not None:
            return count
    output = prediction.get("output")
    if isinstance(output, list):
        return len(output)
    return None


#: Inputs that carry the conversation's text, besides ``prompt``.
TEXT_INPUTS = ("system_prompt", "system_instruction", "instructions")


def prompt_text(inputs: Mapping[str, Any]) -> str:
    """The conversation's text as sent (``prompt``, a system input, a ``messages`` array): what the
    prompt-token estimate counts when the model reports no count."""
    parts = [inputs.get("prompt"), *(inputs.get(name) for name in TEXT_INPUTS)]
    messages = inputs.get("messages")
    if isinstance(messages, list):
        parts += [m.get("content") for m in messages if isinstance(m, Mapping)]
    return "\n".join(part for part in parts if isinstance(part, str))


def usage_of(prediction: Mapping[str, Any], inputs: Mapping[str, Any], text: str) -> Usage:
    metrics = prediction.get("metrics")
    if metrics.__class__ is not dict:  # a dict is what JSON gives: checked without the ABC
        metrics = metrics if isinstance(metrics, Mapping) else {}
    # A count JSON gave as an int is taken here, without a call (this runs once per call).
    prompt = metrics.get("input_token_count")
    if prompt.__class__ is not int:
        prompt = _number(prompt)
    if prompt is None:
        prompt = estimate_tokens(prompt_text(inputs))
    completion = metrics.get("output_token_count")
    if completion.__class__ is not int:
        completion = _number(completion)
    if completion is None:
        completion = output_tokens(prediction) or estimate_tokens(text)
    # Positional arguments here and below: this runs once per call.
    return Usage(prompt, completion, prompt + completion)


def chat_response(prediction: Mapping[str, Any], model: str, inputs: Mapping[str, Any]) -> ChatResponse:
    pid = prediction.get("id")
    if pid.__class__ is not str:
        pid = None if pid is None else str(pid)
    text = output_text(prediction.get("output"), model, pid)
    usage = usage_of(prediction, inputs, text)
    # Only an output that holds a <think> can start with one.
    reasoning, answer = split_reasoning(text) if THINK_OPEN in text else (None, text)
    # role, content, name, tool_calls, tool_call_id, reasoning_content
    message = Message("assistant", answer, None, None, None, reasoning or None)
    choice = Choice(0, message, finish_reason(usage.completion_tokens, inputs))
    rid = pid if pid is not None else str(prediction.get("id", ""))
    return ChatResponse(rid, int(time.time()), model, (choice,), usage)


class ChunkMaker:
    """Builds one stream's chunks; the fields every chunk shares are fixed once."""

    __slots__ = ("created", "id", "model")

    def __init__(self, prediction_id: str, model: str) -> None:
        self.id = prediction_id
        self.model = model
        self.created = int(time.time())

    def role(self) -> ChatChunk:
        return ChatChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=(ChunkChoice(index=0, delta=Delta(role="assistant", content="")),),
        )

    def content(self, text: str) -> ChatChunk:
        # Positional arguments: this runs once per token.
        return ChatChunk(self.id, self.created, self.model, (ChunkChoice(0, Delta(None, text)),))

    def reasoning(self, text: str) -> ChatChunk:
        return ChatChunk(self.id, self.created, self.model, (ChunkChoice(0, Delta(None, None, text)),))

    def usage(self, usage: Usage) -> ChatChunk:
        """OpenAI's closing chunk for ``include_usage``: no choices, just the usage."""
        return ChatChunk(self.id, self.created, self.model, (), usage=usage)

    def finish(self, reason: str, usage: Usage | None = None) -> ChatChunk:
        return ChatChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=(ChunkChoice(index=0, delta=Delta(), finish_reason=reason),),
            usage=usage,
        )
