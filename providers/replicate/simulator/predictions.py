"""Prediction records whose state is computed from timestamps, their JSON, and their SSE events.

Nothing runs in the background: a prediction is a plan (when it starts, when each chunk appears,
when and how it ends) and every read evaluates the plan at "now". That keeps 10,000 predictions
in flight as cheap as 10,000 small objects.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import orjson

from .catalog import LLAMA3_TEMPLATE

_MAX_KEYS = ("max_tokens", "max_new_tokens", "max_length")

TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})

# Monotonic times are mapped onto the wall clock once, so timestamps stay ordered.
_WALL_OFFSET = time.time() - time.monotonic()

_WORDS = (
    "llama alpaca vicuna camel wool meadow mountain valley river gentle quiet fuzzy soft "
    "grazing herd sunlight morning evening answer question model token stream output "
    "simulated replicate prompt reply careful helpful friendly small large bright calm "
    "steady patient curious clever honest simple clear quick slow green golden silver"
).split()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def wall_us(mono: float) -> int:
    """Wall-clock microseconds: the unit of timestamps and of the list filters."""
    return round((mono + _WALL_OFFSET) * 1e6)


def iso_us(micros: int) -> str:
    """RFC 3339 UTC with microseconds, as Replicate writes it."""
    return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(mono: float) -> str:
    return iso_us(wall_us(mono))


def wall(mono: float) -> float:
    return mono + _WALL_OFFSET


def generate_chunks(input_: dict[str, Any], model: str, count: int, *, think: bool = False) -> list[str]:
    """Deterministic LLM-like chunks: leading spaces, a multi-line chunk every sixth, final "".

    With `think`, the output opens as a reasoning model's does: `<think>`, a quarter of the chunks
    of reasoning, `</think>`, then the answer (together still about `count` chunks)."""
    key = orjson.dumps([model, input_], option=orjson.OPT_SORT_KEYS, default=str)
    rng = random.Random(hashlib.blake2b(key, digest_size=8).digest())
    if not think:
        return _sentence(rng, count)
    thought = max(1, count // 4)
    reasoning = _sentence(rng, thought + 1)[:-1] if thought > 1 else _sentence(rng, 1)
    answer = _sentence(rng, max(1, count - thought - 2))
    return ["<think>\n", *reasoning, "\n</think>\n\n", *answer]


def _sentence(rng: random.Random, count: int) -> list[str]:
    words = rng.choices(_WORDS, k=max(count, 1))
    if count <= 1:
        return [words[0].capitalize()]
    chunks = [words[0].capitalize()]
    for i in range(1, count - 1):
        if i % 6 == 5:
            chunks.append(f" {words[i]}.\n{rng.choice(_WORDS).capitalize()}")
        else:
            chunks.append(f" {words[i]}")
    chunks.append("")  # llama-3 ends with an empty chunk
    return chunks


def count_tokens(text: str) -> int:
    return len(re.findall(r"\w+|[^\w\s]", text))


@attrs.define(eq=False)
class Prediction:
    """One prediction. `input` is exactly what reached "Replicate"; `headers` the create request's
    headers (Authorization removed); `unknown_inputs` the input keys the schema does not know."""

    id: str
    model: str
    version: str
    input: dict[str, Any]
    chunks: list[str]
    created: float
    started: float
    step: float
    end: float
    end_status: str
    final_count: int
    deployment: str | None = None
    stream: bool | None = None
    headers: dict[str, str] = attrs.Factory(dict)
    unknown_inputs: tuple[str, ...] = ()
    error: str | None = None
    deadline: float | None = None
    webhook: str | None = None
    input_token_count: int = 0
    # A model whose output schema is one string: `chunks` is that one string, `output_tokens` its size.
    string_output: bool = False
    output_tokens: int = 0
    created_at: str = ""
    created_us: int = 0
    # Formatted timestamps are cached: strftime is the costliest part of rendering.
    _started_iso: str = attrs.field(default="", init=False, repr=False)
    _end_iso: tuple[float, str] = attrs.field(default=(-1.0, ""), init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self.created_us = wall_us(self.created)
        self.created_at = iso_us(self.created_us)

    def started_at(self) -> str:
        if not self._started_iso:
            self._started_iso = iso(self.started)
        return self._started_iso

    def completed_at(self) -> str:
        if self._end_iso[0] != self.end:
            self._end_iso = (self.end, iso(self.end))
        return self._end_iso[1]

    def status(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        if now >= self.end:
            return self.end_status
        return "processing" if now >= self.started else "starting"

    def is_terminal(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) >= self.end

    def _scheduled(self, t: float) -> int:
        """Chunks whose scheduled time is <= t (chunk i is due at started + i * step)."""
        if t < self.started:
            return 0
        if self.step <= 0:
            return len(self.chunks)
        return min(len(self.chunks), math.floor((t - self.started) / self.step) + 1)

    def visible(self, now: float) -> int:
        if now >= self.end:
            return self.final_count
        return min(self._scheduled(now), self.final_count)

    def next_change(self, now: float) -> float:
        """When the state may next differ from its state at `now`."""
        if now < self.started:
            return min(self.started, self.end)
        if self.step <= 0:
            return self.end
        due = self.started + self._scheduled(now) * self.step
        return min(max(due, now), self.end)

    def cancel(self, now: float) -> bool:
        """Cancel now; False if already terminal (then nothing changes)."""
        if now >= self.end:
            return False
        self.final_count = min(self._scheduled(now), self.final_count)
        self.end = now
        self.end_status = "canceled"
        self.error = None
        return True

    def apply_deadline(self, deadline: float) -> None:
        """Cancel-After: canceled if still running at the deadline, aborted if never started."""
        self.deadline = deadline
        if deadline >= self.end:
            return
        if deadline < self.started:
            self.final_count, self.end_status = 0, "aborted"
        else:
            self.final_count = min(self._scheduled(deadline), self.final_count)
            self.end_status = "canceled"
        self.end = deadline
        self.error = None

    def metrics(self) -> dict[str, Any]:
        predict = max(self.end - self.started, 0.0)
        metrics: dict[str, Any] = {
            "predict_time": round(predict, 6),
            "total_time": round(self.end - self.created, 6),
        }
        if self.end_status == "succeeded":
            out = self.output_tokens if self.string_output else self.final_count
            metrics["input_token_count"] = self.input_token_count
            metrics["output_token_count"] = out
            metrics["tokens_per_second"] = round(out / max(predict, 1e-3), 3)
            metrics["time_to_first_token"] = round(self.started - self.created, 6)
        return metrics


def urls(pred: Prediction, base: str) -> dict[str, str]:
    get = f"{base}/v1/predictions/{pred.id}"
    return {
        "cancel": f"{get}/cancel",
        "get": get,
        "stream": f"{base}/v1/streams/{pred.id}",
        "web": f"{base}/p/{pred.id}",
    }


def _skeleton(pred: Prediction, base: str, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": pred.id,
        "model": pred.model,
        "version": pred.version,
        "input": pred.input,
        "logs": "",
        "error": None,
        "status": status,
        "created_at": pred.created_at,
        "data_removed": False,
        "source": "api",
        "urls": urls(pred, base),
    }
    if pred.deployment is not None:
        body["deployment"] = pred.deployment
    if pred.deadline is not None:
        body["deadline"] = iso(pred.deadline)
    if pred.stream is not None:
        body["stream"] = pred.stream
    return body


def render(pred: Prediction, base: str, now: float, *, as_status: str | None = None) -> dict[str, Any]:
    """The prediction object at `now`. `as_status="starting"` renders the fresh-create shape (no
    output/started_at/metrics keys); `as_status="processing"` renders a finished prediction the
    way 2024's `Prefer: wait` did: complete output, status processing, no completed_at/metrics."""
    if as_status == "starting":
        return _skeleton(pred, base, "starting")
    status = as_status or pred.status(now)
    body = _skeleton(pred, base, status)
    if status == "starting":
        return body
    count = pred.visible(now)
    if pred.string_output:
        body["output"] = pred.chunks[0] if count else None
    else:
        body["output"] = pred.chunks[:count] if count else None
    if pred.started <= min(now, pred.end):
        body["started_at"] = pred.started_at()
    if status in TERMINAL and as_status is None:
        body["completed_at"] = pred.completed_at()
        body["metrics"] = pred.metrics()
        if status == "failed":
            body["error"] = pred.error
    return body


def event_id(pred: Prediction, seq: int) -> str:
    return f"{int(wall(pred.created))}:{seq}"


def sse_event(name: str, ident: str, data: str) -> bytes:
    """One SSE event; every data line gets exactly one space after `data:` so that the one space
    a parser strips is ours and a chunk's own leading space survives."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {name}\nid: {ident}\n{lines}\n".encode()


def output_events(pred: Prediction, start: int, stop: int) -> bytes:
    return b"".join(sse_event("output", event_id(pred, i), pred.chunks[i]) for i in range(start, stop))


def closing_events(pred: Prediction, first_seq: int) -> list[tuple[int, bytes]]:
    """The events after the outputs of a terminal prediction: (seq, bytes) pairs."""
    if pred.end_status == "failed":
        detail = orjson.dumps({"detail": pred.error or "Prediction failed"}).decode()
        done = orjson.dumps({"reason": "error"}).decode()
        return [
            (first_seq, sse_event("error", event_id(pred, first_seq), detail)),
            (first_seq + 1, sse_event("done", event_id(pred, first_seq + 1), done)),
        ]
    # "canceled" is the only documented non-error reason; aborted predictions end the same way.
    reason = "{}" if pred.end_status == "succeeded" else '{"reason":"canceled"}'
    return [(first_seq, sse_event("done", event_id(pred, first_seq), reason))]


def parse_last_event_id(value: str | None) -> int:
    """The sequence number after which a resumed stream continues (-1: from the start)."""
    if not value:
        return -1
    _, _, seq = value.rpartition(":")
    try:
        return int(seq)
    except ValueError:
        return -1


def requested_max(values: Mapping[str, Any]) -> int | None:
    found = [v for k in _MAX_KEYS if isinstance(v := values.get(k), int) and not isinstance(v, bool)]
    return min(found) if found else None


def llama3_error(values: Mapping[str, Any]) -> str | None:
    """The UserErrors cog-triton (the llama-3 server) raises before generating."""
    max_tokens, max_new = values.get("max_tokens"), values.get("max_new_tokens")
    if max_tokens is not None and max_new is not None and max_tokens != 512:
        return (
            "E1102 InvalidArgumentMaxTokens: Can't set both max_tokens "
            f"({max_tokens}) and max_new_tokens ({max_new})"
        )
    min_tokens, min_new = values.get("min_tokens"), values.get("min_new_tokens")
    if min_tokens is not None and min_new is not None:
        return (
            "E1101 InvalidArgumentMinTokens: Can't set both min_tokens "
            f"({min_tokens}) and min_new_tokens ({min_new})"
        )
    template = str(values.get("prompt_template", LLAMA3_TEMPLATE))
    if "{prompt}" not in template:
        return (
            "E1003 BadPromptTemplate: You have submitted both a prompt and a prompt template that "
            "doesn't include '{prompt}'. Your prompt would not be used. If you don't want to use "
            "formatting, use your full prompt for the prompt argument and set prompt_template to "
            "'{prompt}'."
        )
    formatted = template.replace("{prompt}", str(values.get("prompt", "")))
    formatted = formatted.replace("{system_prompt}", str(values.get("system_prompt", "")))
    if not formatted.strip():
        return "E1001 PromptRequired: A prompt is required, but your formatted prompt is blank"
    return None
