"""Client-side rate limits (``RateGate``): predictions in flight and per minute, a 429 slowing the whole
router down, and the proxy's ``router_settings`` reaching the gate. Counts and order only, no speeds."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from support import TEST_KEY, StartSimulator, wait_for

import patchwire
from patchwire.providers.replicate.simulator import Faults
from patchwire.proxy import create_app, parse_config
from patchwire.proxy.state import STATE

LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"


def msgs(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"call {i}"}]


def creates(sim: Any) -> int:
    return int(sim.stats.by_route["create"])


async def test_concurrency_limit_caps_predictions_running_at_once(start_simulator: StartSimulator) -> None:
    running = await start_simulator(tokens=10, token_interval=0.02)
    peak = 0

    def sample() -> bool:
        nonlocal peak
        peak = max(peak, running.sim.running())
        return False

    async def watch() -> None:
        while not sample():
            await asyncio.sleep(0.002)

    watcher = asyncio.ensure_future(watch())
    async with patchwire.Router(max_concurrency=3) as router:
        results = await asyncio.gather(
            *(router.acompletion(LLAMA3, msgs(i), api_key=TEST_KEY, api_base=running.url) for i in range(15)),
            *(
                _read_stream(router, running.url, i)  # streams hold their slot until read to the end
                for i in range(15, 21)
            ),
        )
    watcher.cancel()
    assert len(results) == 21 and running.sim.stats.created == 21
    assert 1 <= peak <= 3


async def _read_stream(router: patchwire.Router, url: str, i: int) -> str:
    stream = await router.acompletion(LLAMA3, msgs(i), api_key=TEST_KEY, api_base=url, stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream])


async def test_per_minute_limit_holds_back_creates_beyond_the_burst(start_simulator: StartSimulator) -> None:
    running = await start_simulator()
    # 6 a minute: a burst of 6, then one every 10 s.
    async with patchwire.Router(rate_gate=patchwire.RateGate(per_minute=6)) as router:
        tasks = [
            asyncio.ensure_future(router.acompletion(LLAMA3, msgs(i), api_key=TEST_KEY, api_base=running.url))
            for i in range(9)
        ]
        await wait_for(lambda: sum(t.done() for t in tasks) == 6)
        await asyncio.sleep(0.5)  # well inside the 10 s until the next token
        assert creates(running.sim) == 6 and running.sim.stats.created == 6
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert running.sim.stats.created == 6


class PauseRecordingGate(patchwire.RateGate):
    """A gate that remembers when each back-off it was told of ends."""

    def __init__(self) -> None:
        super().__init__()
        self.pauses_until: list[float] = []

    def back_off(self, seconds: float) -> None:
        self.pauses_until.append(time.monotonic() + seconds)
        super().back_off(seconds)


async def test_one_429_pauses_every_call_of_the_router(start_simulator: StartSimulator) -> None:
    running = await start_simulator(faults=Faults(retry_after=1.0), latency=0.05)
    gate = PauseRecordingGate()
    async with patchwire.Router(rate_gate=gate) as router:
        running.sim.inject_fault("429", route="create")
        first = asyncio.ensure_future(
            router.acompletion(LLAMA3, msgs(0), api_key=TEST_KEY, api_base=running.url)
        )
        await wait_for(lambda: bool(gate.pauses_until))  # its answer reached the client: the gate pauses
        assert running.sim.stats.created == 0
        # Twenty calls made during the pause: none creates before the pause is over.
        others = [
            asyncio.ensure_future(router.acompletion(LLAMA3, msgs(i), api_key=TEST_KEY, api_base=running.url))
            for i in range(1, 21)
        ]
        await asyncio.gather(first, *others)
    (pause_end,) = gate.pauses_until
    assert min(p.created for p in running.sim.predictions.values()) >= pause_end
    # Then all go through, each created once; the 429's retry is the only extra request.
    assert running.sim.stats.created == 21
    assert creates(running.sim) == 22


async def test_429_on_reads_pauses_every_calls_polls_but_not_creates(start_simulator: StartSimulator) -> None:
    # Replicate limits creates and other requests separately: a 429 on a poll says nothing of creates.
    running = await start_simulator(faults=Faults(retry_after=3.0), tokens=3, token_interval=0.3)
    poll = {"replicate": {"prefer_wait": 0}}
    async with patchwire.Router(provider_options=poll, rate_gate=patchwire.RateGate()) as router:
        first = asyncio.ensure_future(
            router.acompletion(LLAMA3, msgs(0), api_key=TEST_KEY, api_base=running.url)
        )
        await wait_for(lambda: running.sim.stats.created == 1)
        running.sim.inject_fault("429", route="get")
        await wait_for(lambda: running.sim.stats.faults["429"] == 1)
        gets = running.sim.stats.by_route["get"]
        second = asyncio.ensure_future(
            router.acompletion(LLAMA3, msgs(1), api_key=TEST_KEY, api_base=running.url)
        )
        await wait_for(lambda: running.sim.stats.created == 2)
        assert router.rate_gate is not None and router.rate_gate.read_pace.rate is not None
        assert running.sim.stats.by_route["get"] == gets  # nobody polls during the second's pause
        await asyncio.gather(first, second)
    assert running.sim.stats.created == 2


def test_proxy_router_settings_reach_the_rate_gate() -> None:
    config = parse_config(
        {
            "model_list": [{"model_name": "m", "litellm_params": {"model": LLAMA3, "api_key": TEST_KEY}}],
            "router_settings": {"rpm": 120, "max_concurrency": 7},
        },
        source="gate.yaml",
    )
    router = create_app(config)[STATE].router
    assert router.rate_gate is not None and router.rate_gate.per_minute == 120
    assert router.max_concurrency == 7
    plain = parse_config({"model_list": [{"model_name": "m", "litellm_params": {"model": LLAMA3}}]})
    assert create_app(plain)[STATE].router.rate_gate is None
