"""Replicate under faults, end to end: cancellation, 429s and refusals, creates of unknown outcome,
flaky reads and servers that never answer."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from support import TEST_KEY, StartSimulator, wait_for

import patchwire
from patchwire import (
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    UnknownOutcomeError,
)
from patchwire.providers.replicate import api, recovery
from patchwire.providers.replicate.simulator import Faults

MSGS = [{"role": "user", "content": "Hello"}]
LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"


@pytest.fixture
async def quick_router() -> Any:
    """A router whose Replicate provider holds creates for 1 s (``Prefer: wait=1``), not 5."""
    async with patchwire.Router(provider_options={"replicate": {"prefer_wait": 1}}) as router:
        yield router


def create_requests(sim: Any) -> int:
    return int(sim.stats.by_route["create"])


# -- cancellation -------------------------------------------------------------------------------


async def test_task_cancelled_while_polling_cancels_the_prediction(
    start_simulator: StartSimulator, quick_router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=400, token_interval=0.05)
    task = asyncio.ensure_future(
        quick_router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
    )
    await wait_for(lambda: running.sim.stats.by_route["get"] >= 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert running.sim.running() == 0
    assert running.sim.stats.canceled == 1


async def test_task_cancelled_during_its_create_still_cancels_the_prediction(
    start_simulator: StartSimulator, quick_router: patchwire.Router
) -> None:
    # The id is only known when the create answers: the call waits for that (seconds), then cancels.
    running = await start_simulator(tokens=400, token_interval=0.05)
    task = asyncio.ensure_future(
        quick_router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
    )
    await wait_for(lambda: running.sim.stats.created == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert running.sim.running() == 0
    assert running.sim.stats.canceled == 1
    assert running.sim.stats.by_route["get"] == 0


# -- refusals and retries -----------------------------------------------------------------------


async def test_429_is_retried_after_retry_after(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(faults=Faults(retry_after=1.0))
    running.sim.inject_fault("429", route="create")
    started = time.monotonic()
    response = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
    assert time.monotonic() - started >= 1.0  # it waited as told
    assert running.sim.stats.faults["429"] == 1
    assert create_requests(running.sim) == 2 and running.sim.stats.created == 1
    assert response.choices[0].message.content


async def test_429_slows_down_the_whole_router_through_its_rate_gate(start_simulator: StartSimulator) -> None:
    running = await start_simulator(faults=Faults(retry_after=1.0))
    gate = patchwire.RateGate()
    async with patchwire.Router(rate_gate=gate) as router:
        running.sim.inject_fault("429", route="create")
        first = asyncio.ensure_future(
            router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
        )
        await wait_for(lambda: running.sim.stats.faults["429"] == 1)
        await asyncio.sleep(0)  # let the first call record the back-off
        before = create_requests(running.sim)
        # A second call made now waits out the same back-off before its own create.
        second = asyncio.ensure_future(
            router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
        )
        await asyncio.sleep(0.3)
        assert create_requests(running.sim) == before
        await asyncio.gather(first, second)
    assert running.sim.stats.created == 2


async def test_429_beyond_the_deadline_is_a_rate_limit_error(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(faults=Faults(retry_after=30.0))
    running.sim.inject_fault("429", route="create")
    with pytest.raises(RateLimitError) as info:
        await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, timeout=5)
    assert info.value.retry_after == 30.0
    assert info.value.status_code == 429


async def test_503_refusal_is_retried(start_simulator: StartSimulator, router: patchwire.Router) -> None:
    running = await start_simulator(faults=Faults(statuses_5xx=(503,)))
    running.sim.inject_fault("5xx", route="create", times=2)
    response = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
    assert create_requests(running.sim) == 3 and running.sim.stats.created == 1
    assert response.choices[0].message.content


async def test_flaky_reads_are_retried(start_simulator: StartSimulator, router: patchwire.Router) -> None:
    running = await start_simulator(sync_status="processing", faults=Faults(statuses_5xx=(500, 502)))
    running.sim.inject_fault("5xx", route="get", times=2)
    running.sim.inject_fault("drop", route="get")
    response = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
    (prediction,) = running.sim.predictions.values()
    assert response.choices[0].message.content == "".join(prediction.chunks)
    assert running.sim.stats.by_route["get"] >= 4


async def test_unreachable_server_is_service_unavailable(router: patchwire.Router) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ServiceUnavailableError) as info:
        await router.acompletion(
            LLAMA3, MSGS, api_key=TEST_KEY, api_base=f"http://127.0.0.1:{port}", timeout=3
        )
    assert "api_base" in str(info.value)
    assert TEST_KEY not in repr(info.value)


# -- creates of unknown outcome -----------------------------------------------------------------


async def test_create_cut_after_it_was_made_is_found_again_not_resent(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator()
    running.sim.inject_fault("drop_after_create", route="create")
    response = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
    (prediction,) = running.sim.predictions.values()
    assert running.sim.stats.created == 1 and create_requests(running.sim) == 1
    assert running.sim.stats.by_route["list"] >= 1
    assert response.id == prediction.id
    assert response.choices[0].message.content == "".join(prediction.chunks)


async def test_lost_create_of_a_concurrent_identical_call_is_not_taken_for_ours(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=4)
    running.sim.inject_fault("drop_after_create", route="create")
    first, second = await asyncio.gather(
        router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url),
        router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url),
    )
    assert first.id != second.id
    assert set(running.sim.predictions) == {first.id, second.id}


@pytest.mark.parametrize("fault", ["5xx", "drop"])
async def test_lost_create_that_made_nothing_is_sent_again_once_the_list_proves_it(
    start_simulator: StartSimulator, router: patchwire.Router, fault: str
) -> None:
    # A 500 or a connection dropped after sending may or may not have made a prediction: only a lookup
    # made once a new prediction would show in the list, and showing none, allows sending it again.
    running = await start_simulator(faults=Faults(statuses_5xx=(500,)))
    running.sim.inject_fault(fault, route="create")
    started = time.monotonic()
    response = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
    assert time.monotonic() - started >= recovery.LIST_DELAY
    (prediction,) = running.sim.predictions.values()
    assert response.id == prediction.id
    assert response.choices[0].message.content == "".join(prediction.chunks)
    assert create_requests(running.sim) == 2 and running.sim.stats.created == 1
    create = ("POST", "/v1/models/meta/meta-llama-3-8b-instruct/predictions")
    calls = [(r.method, r.path) for r in running.sim.requests if r.path.endswith("predictions")]
    lookups = [("GET", "/v1/predictions")] * (len(calls) - 2)
    assert calls == [create, *lookups, create]
    assert len(lookups) >= 2  # one at once, one after the list has had time to show it


async def test_lost_create_that_cannot_be_proven_absent_by_the_deadline_is_an_unknown_outcome(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(faults=Faults(statuses_5xx=(500,)))
    running.sim.inject_fault("drop", route="create", times=1000)
    with pytest.raises(UnknownOutcomeError) as info:
        await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, timeout=4)
    assert "not resent" in str(info.value)
    assert running.sim.stats.created == 0
    # Each resend came only after a proof: at most one per LIST_DELAY.
    assert 1 <= create_requests(running.sim) <= 4 / recovery.LIST_DELAY


# -- deadlines ----------------------------------------------------------------------------------


async def test_hanging_create_ends_at_the_deadline(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator()
    running.sim.inject_fault("hang", route="create")
    with pytest.raises(Timeout) as info:
        await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, timeout=1)
    assert info.value.status_code == 408
    assert running.sim.stats.created == 0


async def test_a_silent_create_well_before_the_deadline_is_given_up_and_sent_again(
    start_simulator: StartSimulator, quick_router: patchwire.Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A create asking Prefer: wait=1 is given 1 s + the slack to answer; with a deadline far beyond
    # that, its silence is not left to the deadline: proven to have made nothing, it is sent again.
    monkeypatch.setattr(api, "CREATE_SILENCE_SLACK", 1.0)
    monkeypatch.setattr(api, "_create_timeouts", {})
    running = await start_simulator()
    running.sim.inject_fault("hang", route="create")
    started = time.monotonic()
    response = await quick_router.acompletion(
        LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, timeout=60
    )
    assert response.choices[0].message.content
    assert create_requests(running.sim) == 2
    assert running.sim.stats.created == 1
    assert time.monotonic() - started < 30  # not the call's 60 s deadline


async def test_hanging_poll_ends_at_the_deadline_and_cancels(
    start_simulator: StartSimulator, quick_router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=400, token_interval=0.05)
    running.sim.inject_fault("hang", route="get", times=5)
    with pytest.raises(Timeout) as info:
        await quick_router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, timeout=2)
    (prediction,) = running.sim.predictions.values()
    assert info.value.prediction_id == prediction.id
    assert running.sim.running() == 0


async def test_hanging_schema_fetch_ends_at_the_deadline(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator()
    running.sim.inject_fault("hang", route="model")
    with pytest.raises(Timeout):
        await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, timeout=1)
    assert running.sim.stats.created == 0
