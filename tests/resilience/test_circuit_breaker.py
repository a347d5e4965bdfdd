"""A dead upstream: once its connections keep failing, calls fail at once instead of each spending its
own connection retries; after a cool-down one call probes, and the upstream back up serves again."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from support import TEST_KEY

import patchwire
import patchwire.breaker
from patchwire.providers.replicate.simulator import ReplicateSimulator, SimulatorConfig

MODEL = "replicate/meta/meta-llama-3-8b-instruct"
MESSAGES = [{"role": "user", "content": "hi"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_a_dead_upstream_fails_fast_then_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patchwire.breaker, "COOL_DOWN", 0.5)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with patchwire.Router() as router:

        async def call() -> object:
            return await router.acompletion(MODEL, MESSAGES, api_key=TEST_KEY, api_base=base, timeout=60)

        started = time.monotonic()
        with pytest.raises(patchwire.ServiceUnavailableError, match="could not connect"):
            await call()
        assert time.monotonic() - started < 10  # a few connection failures, not a deadline's worth
        # The breaker's own refusal: no connection was tried.
        with pytest.raises(patchwire.ServiceUnavailableError, match="fail at once"):
            await call()

        sim = ReplicateSimulator(SimulatorConfig(latency=0.0, tokens=2))
        async with sim.serve("127.0.0.1", port):
            deadline = time.monotonic() + 10
            while True:  # within a cool-down or two, a probe gets through and closes the breaker
                try:
                    response = await call()
                    break
                except patchwire.ServiceUnavailableError:
                    assert time.monotonic() < deadline, "the breaker never let a probe through"
                    await asyncio.sleep(0.1)
            assert isinstance(response, patchwire.ChatResponse)
            await call()  # closed again: no waiting


def test_the_breaker_opens_probes_and_closes() -> None:
    breaker = patchwire.breaker.CircuitBreaker()
    for _ in range(patchwire.breaker.FAILURES_TO_OPEN):
        assert breaker.allow() is None
        breaker.failed()
    assert breaker.is_open and breaker.allow() is not None
    breaker._open_until = 0.0  # the cool-down is over
    assert breaker.allow() is None  # one probe...
    assert breaker.allow() is not None  # ...and only one
    breaker.succeeded()
    assert not breaker.is_open and breaker.allow() is None
