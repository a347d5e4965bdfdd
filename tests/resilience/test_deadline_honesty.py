"""The deadline covers the whole call — the wait for a concurrency slot included — and a call cut by
its deadline reports what really happened to its prediction."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from support import TEST_KEY, StartSimulator, wait_for

import patchwire

MODEL = "replicate/meta/meta-llama-3-8b-instruct"
MESSAGES = [{"role": "user", "content": "hi"}]


async def test_waiting_for_a_slot_counts_against_the_deadline(start_simulator: StartSimulator) -> None:
    running = await start_simulator(latency=60.0)
    async with patchwire.Router(max_concurrency=2) as router:

        async def call(timeout: float) -> object:
            return await router.acompletion(
                MODEL, MESSAGES, api_key=TEST_KEY, api_base=running.url, timeout=timeout
            )

        held = [asyncio.create_task(call(120)) for _ in range(2)]
        await wait_for(lambda: len(running.sim.predictions) == 2, timeout=10)
        started = time.monotonic()
        with pytest.raises(patchwire.Timeout, match="no free slot"):
            await call(0.5)
        assert time.monotonic() - started < 3
        for task in held:
            task.cancel()
        for task in held:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert len(running.sim.predictions) == 2  # the third call never created one


async def test_a_prediction_that_succeeded_past_a_tiny_deadline_is_returned_not_called_canceled(
    start_simulator: StartSimulator,
) -> None:
    running = await start_simulator(tokens=3)
    async with patchwire.Router() as router:
        await router.acompletion(MODEL, MESSAGES, api_key=TEST_KEY, api_base=running.url)  # schema cached
        try:
            response = await router.acompletion(
                MODEL, MESSAGES, api_key=TEST_KEY, api_base=running.url, timeout=0.001
            )
        except patchwire.Timeout as exc:
            # Only honest if nothing was made, or what was made did not succeed.
            made = [p for p in running.sim.predictions.values() if p.id == exc.prediction_id]
            assert "canceled" not in exc.message or not made or made[0].status() != "succeeded", exc.message
        else:
            assert response.choices[0].message.content
            assert running.sim.predictions[response.id].status() == "succeeded"
    statuses = [p.status() for p in running.sim.predictions.values()]
    assert "canceled" not in statuses
