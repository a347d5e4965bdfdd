"""The simulator's prediction store: every prediction made, in creation order, and the waits on them.

Nothing here speaks HTTP. A prediction's state is computed from its timestamps (see
``predictions.py``); what the store adds is bookkeeping (ids, creation order for listing, which
predictions are still running, which models are warm) and wake-ups: a waiting create, stream or
hung request sleeps on a key and is woken early by a cancel or by shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from typing import Any

from .catalog import Deployment, Model
from .predictions import Prediction, count_tokens, generate_chunks, requested_max

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
#: The most predictions one page of `GET /v1/predictions` holds.
PAGE_SIZE = 100


class PredictionStore:
    """Predictions by id and in creation order, the running set, warm models and waiters.

    `timing` is read at each create, so changes to the simulator's config apply to predictions
    created afterwards.
    """

    def __init__(self, timing: Callable[[], Any], id_salt: int = 0) -> None:
        self._timing = timing
        self.predictions: dict[str, Prediction] = {}
        self._order: list[Prediction] = []
        self._created_us: list[int] = []
        self._active: set[Prediction] = set()
        self._warm_at: dict[str, float] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        # Unique to this instance, as Replicate's ids are: a client that outlives one simulator (a
        # test process, a shared provider) must never meet an id it saw from another one.
        self._id_rng = random.Random(f"ids:{id_salt}:{os.urandom(8).hex()}")
        self.closing = False

    # ---- lifecycle --------------------------------------------------------------------------

    def create(
        self,
        *,
        model: Model,
        version: str,
        deployment: Deployment | None,
        values: dict[str, Any],
        error: str | None,
        cancel_after: float | None = None,
        stream: bool | None = None,
        webhook: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Prediction:
        """Plan and register a new prediction of `model` for input `values`; `error` makes it fail."""
        cfg = self._timing()
        now = time.monotonic()
        boot_key = (deployment.ref if deployment else model.ref).lower()
        warm_at = self._warm_at.setdefault(boot_key, now + cfg.cold_boot)
        started = max(now, warm_at) + cfg.latency
        requested = requested_max(values)
        count = max(1, min(cfg.tokens, requested) if requested is not None else cfg.tokens)
        chunks = generate_chunks(values, model.ref, count, think=model.think)
        output_tokens = len(chunks)
        if model.string_output:  # the whole text at once, when the prediction ends
            chunks = ["".join(chunks)]
        # A failure found before generating (E1xxx) shows no output; a later one, half of it.
        final = len(chunks) if error is None else (0 if error.startswith("E1") else len(chunks) // 2)
        step = cfg.token_interval
        pred = Prediction(
            id=self._new_id(),
            model=model.ref,
            version=version,
            input=values,
            chunks=chunks,
            created=now,
            started=started,
            step=step,
            end=started + (final if error else final - 1) * step,
            end_status="failed" if error else "succeeded",
            final_count=final,
            deployment=deployment.ref if deployment else None,
            stream=stream,
            headers=dict(headers or {}),
            unknown_inputs=tuple(k for k in values if k not in model.inputs),
            error=error,
            webhook=webhook,
            input_token_count=count_tokens(input_text(values)),
            string_output=model.string_output,
            output_tokens=output_tokens,
        )
        if cancel_after is not None:
            pred.apply_deadline(now + max(cancel_after, cfg.min_cancel_after))
        self.predictions[pred.id] = pred
        self._order.append(pred)
        self._created_us.append(pred.created_us)
        self._active.add(pred)
        model.run_count += 1
        return pred

    def cancel(self, pred: Prediction) -> bool:
        """Cancel `pred` now and wake whoever waits on it; False if it had already ended."""
        if not pred.cancel(time.monotonic()):
            return False
        self._active.discard(pred)
        self.wake(pred.id)
        return True

    def running(self) -> int:
        """Predictions that are not terminal now."""
        now = time.monotonic()
        self._active = {p for p in self._active if not p.is_terminal(now)}
        return len(self._active)

    def make_cold(self, ref: str | None = None) -> None:
        """Let the next prediction of `ref` ("owner/name"; None: every model) cold-boot again."""
        if ref is None:
            self._warm_at.clear()
        else:
            self._warm_at.pop(ref.lower(), None)

    def clear(self) -> None:
        """Forget every prediction (the warm models stay warm)."""
        self.predictions.clear()
        self._order.clear()
        self._created_us.clear()
        self._active.clear()

    def _new_id(self) -> str:
        while True:
            pid = "".join(self._id_rng.choices(_ID_ALPHABET, k=26))
            if pid not in self.predictions:
                return pid

    # ---- listing ----------------------------------------------------------------------------

    def page(
        self, after_us: int | None, before_us: int | None, cursor: int | None
    ) -> tuple[list[Prediction], int | None]:
        """One page of predictions created in (after, before), newest first, and the cursor of
        the next (older) page, if any."""
        lo = bisect_right(self._created_us, after_us) if after_us is not None else 0
        hi = bisect_left(self._created_us, before_us) if before_us is not None else len(self._order)
        if cursor is not None:
            hi = min(hi, cursor + 1)
        start = max(lo, hi - PAGE_SIZE)
        return list(reversed(self._order[start:hi])), (start - 1 if start > lo else None)

    # ---- waiting ----------------------------------------------------------------------------

    async def sleep(self, key: str, delay: float) -> None:
        """Sleep up to `delay`, waking early when `wake(key)` is called (cancel, shutdown)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        waiters = self._waiters.setdefault(key, [])
        waiters.append(fut)
        handle = loop.call_later(max(delay, 0.001), _resolve, fut)
        try:
            await fut
        finally:
            handle.cancel()
            with contextlib.suppress(ValueError):
                waiters.remove(fut)
            if not waiters:
                self._waiters.pop(key, None)

    def wake(self, key: str) -> None:
        for fut in self._waiters.pop(key, []):
            _resolve(fut)

    def close(self) -> None:
        """Shutdown: every wait ends now, and no new wait lasts."""
        self.closing = True
        for key in list(self._waiters):
            self.wake(key)

    async def wait_terminal(self, pred: Prediction, timeout: float) -> bool:
        """Wait up to `timeout` seconds for `pred` to end; whether it did."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if pred.is_terminal(now):
                return True
            if now >= deadline or self.closing:
                return False
            await self.sleep(pred.id, min(pred.end, deadline) - now)


def input_text(values: Mapping[str, Any]) -> str:
    """The text a model reads from its input: prompts, system prompts and messages."""
    parts = [str(values.get(key, "")) for key in ("system_prompt", "system_instruction", "prompt")]
    messages = values.get("messages")
    if isinstance(messages, list):
        parts += [_text_of(m.get("content")) for m in messages if isinstance(m, dict)]
    return " ".join(parts)


def _text_of(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts: the text ones
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
