"""Cancellation storm: calls cancelled at random points (before their create, during it, while waiting
or polling, while streaming, and through the proxy by a client that goes away) leave no prediction
running on Replicate. Predictions here take ~20 s, so only a real cancel ends them within the test."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from support import TEST_KEY, RunningSimulator, StartSimulator

import patchwire
from patchwire.providers.replicate.simulator import Faults
from patchwire.proxy import parse_config, serve_app

LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"
PROXY_KEY = "sk-storm-proxy-key"
STORM = 210  # direct calls, a third per mode (the full size is 500)
PROXY_STORM = 60
#: Long predictions: 1,000 tokens, 20 ms apart.
SLOW = {"tokens": 1000, "token_interval": 0.02, "latency": 0.01}


def options_for(mode: str) -> dict[str, dict[str, int]]:
    # prefer_wait=1: a call cancelled during its create learns the id to cancel within ~1 s, not 5.
    return {"replicate": {"prefer_wait": 0 if mode == "poll" else 1}}


async def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def cancel_delay(rng: random.Random) -> float:
    """When to cancel: before the call starts, during its first requests, or once it is under way."""
    where = rng.random()
    if where < 0.2:
        return 0.0
    if where < 0.5:
        return rng.uniform(0.0, 0.03)
    return rng.uniform(0.03, 0.8)


async def consume(router: patchwire.Router, url: str, mode: str, i: int) -> None:
    messages = [{"role": "user", "content": f"storm-{mode}-{i}"}]
    if mode == "stream":
        stream = await router.acompletion(LLAMA3, messages, api_key=TEST_KEY, api_base=url, stream=True)
        async for _chunk in stream:
            pass
    else:
        await router.acompletion(LLAMA3, messages, api_key=TEST_KEY, api_base=url)


async def test_storm_of_cancelled_calls_leaves_nothing_running(start_simulator: StartSimulator) -> None:
    # A few cancel requests are refused or dropped too: the provider's second try covers them.
    running = await start_simulator(**SLOW, faults=Faults(rate_5xx=0.1, rate_drop=0.05, routes={"cancel"}))
    sim = running.sim
    rng = random.Random(8)
    outcomes: collections.Counter[str] = collections.Counter()
    modes = ("wait", "poll", "stream")
    routers = {mode: patchwire.Router(provider_options=options_for(mode)) for mode in modes}

    async def one(i: int) -> None:
        mode = modes[i % 3]
        task = asyncio.ensure_future(consume(routers[mode], running.url, mode, i))
        delay = cancel_delay(rng)
        if delay:
            await asyncio.sleep(delay)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            outcomes["cancelled"] += 1
        except BaseException as exc:  # anything else is reported below
            outcomes[f"{type(exc).__name__}: {exc}"] += 1
        else:
            outcomes["finished"] += 1

    try:
        await asyncio.gather(*(one(i) for i in range(STORM)))
        drained = await wait_until(lambda: sim.running() == 0, timeout=15)
    finally:
        for router in routers.values():
            await router.aclose()
    statuses = collections.Counter(p.status() for p in sim.predictions.values())
    print(f"\nstorm: {STORM} calls {dict(outcomes)}; created {sim.stats.created}; statuses {dict(statuses)}")
    assert outcomes == {"cancelled": STORM}
    assert drained, f"{sim.running()} predictions left running"
    assert set(statuses) <= {"canceled"}
    # The storm hit every stage: some calls never created, most did (and were cancelled upstream).
    assert 0 < sim.stats.created < STORM
    assert sim.stats.faults["5xx"] + sim.stats.faults["drop"] > 0


async def test_cancel_refused_with_429_is_retried(start_simulator: StartSimulator) -> None:
    running = await start_simulator(**SLOW, faults=Faults(retry_after=0))
    async with patchwire.Router(provider_options=options_for("poll")) as router:
        task = asyncio.ensure_future(consume(router, running.url, "poll", 0))
        assert await wait_until(lambda: running.sim.stats.created == 1, timeout=5)
        running.sim.inject_fault("429", route="cancel")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert running.sim.stats.faults["429"] == 1
    assert await wait_until(lambda: running.sim.running() == 0, timeout=5)


async def leave_while_the_cancel_hangs(router: patchwire.Router, running: RunningSimulator) -> None:
    """A polled call whose prediction was made is cancelled by its caller, and the first cancel
    request it sends hangs (the caller waits a few seconds for it, then leaves)."""
    sim = running.sim
    task = asyncio.ensure_future(consume(router, running.url, "poll", 0))
    assert await wait_until(lambda: sim.stats.created == 1, timeout=5)
    sim.inject_fault("hang", route="cancel")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancel_unanswered_while_the_caller_waits_is_sent_again_after_it_left(
    start_simulator: StartSimulator,
) -> None:
    # The first cancel hangs past the few seconds the leaving caller waits for it (Replicate slow for a
    # moment, or this machine too loaded to hear back): the prediction must still end canceled, not run
    # (and be billed) until the call's 600 s deadline.
    running = await start_simulator(**SLOW)
    sim = running.sim
    async with patchwire.Router(provider_options=options_for("poll")) as router:
        await leave_while_the_cancel_hangs(router, running)
        assert sim.stats.faults["hang"] == 1
        assert await wait_until(lambda: sim.stats.canceled == 1, timeout=15), "never canceled"
    assert [p.status() for p in sim.predictions.values()] == ["canceled"]


async def test_closing_the_router_lets_a_cancel_still_being_retried_finish(
    start_simulator: StartSimulator,
) -> None:
    # The caller left while its cancel went unanswered, and the program closes its router at once:
    # closing the session under the retried cancel would leave the prediction running (and billed).
    running = await start_simulator(**SLOW)
    sim = running.sim
    router = patchwire.Router(provider_options=options_for("poll"))
    await leave_while_the_cancel_hangs(router, running)
    assert sim.stats.canceled == 0  # the caller gave up waiting for its cancel
    await router.aclose()
    assert sim.stats.canceled == 1
    assert [p.status() for p in sim.predictions.values()] == ["canceled"]


# -- through the proxy ---------------------------------------------------------------------------


@pytest.fixture
async def proxy(start_simulator: StartSimulator) -> AsyncIterator[tuple[str, Any]]:
    running = await start_simulator(**SLOW)
    config = parse_config(
        {
            "model_list": [
                {
                    "model_name": "llama-3",
                    "litellm_params": {"model": LLAMA3, "api_key": TEST_KEY, "api_base": running.url},
                }
            ],
            "general_settings": {"master_key": PROXY_KEY},
            "router_settings": {"provider_options": options_for("wait")},
        },
        source="storm.yaml",
    )
    async with serve_app(config, host="127.0.0.1", port=0) as url:
        yield url, running.sim


async def test_clients_going_away_at_random_points_leave_nothing_running(proxy: tuple[str, Any]) -> None:
    url, sim = proxy
    rng = random.Random(9)
    headers = {"Authorization": f"Bearer {PROXY_KEY}"}

    async def client(i: int, http: aiohttp.ClientSession) -> None:
        body = {
            "model": "llama-3",
            "messages": [{"role": "user", "content": f"gone-{i}"}],
            "stream": i % 2 == 0,
        }
        async with http.post(f"{url}/v1/chat/completions", json=body, headers=headers) as resp:
            assert resp.status == 200
            await resp.content.readuntil(b"\n\n")  # a streamed chunk (a JSON answer never comes)

    async def one(i: int) -> None:
        # Each client its own connection: closing it is how the proxy learns the client left.
        async with aiohttp.ClientSession() as http:
            task = asyncio.ensure_future(client(i, http))
            await asyncio.sleep(cancel_delay(rng))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    await asyncio.gather(*(one(i) for i in range(PROXY_STORM)))
    assert await wait_until(lambda: sim.running() == 0, timeout=15), f"{sim.running()} left running"
    statuses = collections.Counter(p.status() for p in sim.predictions.values())
    print(f"\nproxy storm: {PROXY_STORM} clients, created {sim.stats.created}, statuses {dict(statuses)}")
    assert set(statuses) <= {"canceled"}
    assert sim.stats.created > 0
    # Still serving afterwards.
    async with aiohttp.ClientSession() as http, http.get(f"{url}/v1/models", headers=headers) as resp:
        assert resp.status == 200


# -- streams closed or dropped before their first chunk -------------------------------------------


async def test_stream_closed_before_reading_anything_cancels_the_prediction(
    start_simulator: StartSimulator,
) -> None:
    running = await start_simulator(**SLOW)
    async with patchwire.Router(provider_options=options_for("stream"), max_concurrency=1) as router:
        for _ in range(2):  # the second call also shows the concurrency slot was given back
            stream = await router.acompletion(
                LLAMA3,
                [{"role": "user", "content": "hi"}],
                api_key=TEST_KEY,
                api_base=running.url,
                stream=True,
            )
            await stream.aclose()
            assert await wait_until(lambda: running.sim.running() == 0, timeout=5)
    assert running.sim.stats.created == 2 == running.sim.stats.canceled


async def test_stream_dropped_unread_cancels_the_prediction(start_simulator: StartSimulator) -> None:
    # A proxy handler cancelled between getting its stream and reading it just drops the object.
    running = await start_simulator(**SLOW)
    async with patchwire.Router(provider_options=options_for("stream")) as router:
        stream: Any = await router.acompletion(
            LLAMA3, [{"role": "user", "content": "hi"}], api_key=TEST_KEY, api_base=running.url, stream=True
        )
        del stream
        gc.collect()
        assert await wait_until(lambda: running.sim.running() == 0, timeout=5)
    assert running.sim.stats.canceled == 1
