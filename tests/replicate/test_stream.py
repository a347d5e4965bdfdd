"""Streaming from Replicate end to end: the same text as a plain call, chunk by chunk, exactly once,
through cut streams and failing stream endpoints, and cancelled upstream when the reader leaves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import TEST_KEY, StartSimulator

import patchwire
from patchwire import ProviderError, Timeout

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about llamas."}]
LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"
LLAMA2 = "replicate/meta/llama-2-70b-chat:02e509c789964a7ea8736978a43525956ef40397be9033abf9fd2badfe68c9e3"


async def collect(router: patchwire.Router, model: str, url: str, **kw: Any) -> list[patchwire.ChatChunk]:
    stream = await router.acompletion(model, MSGS, api_key=TEST_KEY, api_base=url, stream=True, **kw)
    return [chunk async for chunk in stream]  # type: ignore[union-attr]


def text_of(chunks: list[patchwire.ChatChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks)


@pytest.mark.parametrize("model", [LLAMA3, LLAMA2])
async def test_streamed_output_is_identical_to_the_plain_call(
    start_simulator: StartSimulator, router: patchwire.Router, model: str
) -> None:
    running = await start_simulator(tokens=14, token_interval=0.002)
    plain = await router.acompletion(model, MSGS, api_key=TEST_KEY, api_base=running.url)
    chunks = await collect(router, model, running.url)
    text = plain.choices[0].message.content
    assert "\n" in text and " " in text  # multi-line chunks and leading spaces both survived
    assert text_of(chunks) == text
    first, *middle, last = chunks
    assert first.choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.content and c.choices[0].finish_reason is None for c in middle)
    assert last.choices[0].finish_reason == plain.choices[0].finish_reason == "stop"
    stream_id = last.id
    assert {c.id for c in chunks} == {stream_id} and stream_id in running.sim.predictions
    assert {c.model for c in chunks} == {model}
    create = [r for r in running.sim.requests if r.method == "POST"][-1]
    assert create.body["stream"] is True and "Prefer" not in create.headers


async def test_finish_reason_length_matches_the_plain_call(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=16)
    plain = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, max_tokens=5)
    chunks = await collect(router, LLAMA3, running.url, max_tokens=5)
    assert plain.choices[0].finish_reason == chunks[-1].choices[0].finish_reason == "length"
    assert text_of(chunks) == plain.choices[0].message.content


async def test_cut_stream_is_resumed_with_last_event_id_and_nothing_repeats(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=20, token_interval=0.002)
    expected = (await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)).choices[0]
    running.sim.inject_fault("cut_stream", route="stream")
    chunks = await collect(router, LLAMA3, running.url)
    assert text_of(chunks) == expected.message.content
    streams = [r for r in running.sim.requests if r.path.startswith("/v1/streams/")]
    assert len(streams) == 2
    assert "Last-Event-ID" not in streams[0].headers and streams[1].headers["Last-Event-ID"]
    assert running.sim.stats.faults["cut_stream"] == 1


async def test_failing_stream_endpoint_falls_back_to_polling(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=12, token_interval=0.01)
    expected = (await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)).choices[0]
    running.sim.inject_fault("5xx", route="stream", times=50)
    chunks = await collect(router, LLAMA3, running.url)
    assert text_of(chunks) == expected.message.content
    assert running.sim.stats.by_route["get"] >= 1
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_closing_a_stream_early_cancels_the_prediction(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=500, token_interval=0.02)
    stream = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, stream=True)
    async with stream:  # type: ignore[union-attr]
        seen = 0
        async for chunk in stream:  # type: ignore[union-attr]
            seen += chunk.choices[0].delta.content is not None
            if seen == 3:
                break
    assert running.sim.running() == 0
    assert running.sim.stats.canceled == 1


async def test_cancelling_the_reading_task_cancels_the_prediction(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=500, token_interval=0.02)
    got_some = asyncio.Event()

    async def read() -> None:
        stream = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, stream=True)
        async for chunk in stream:  # type: ignore[union-attr]
            if chunk.choices[0].delta.content:
                got_some.set()

    task = asyncio.ensure_future(read())
    async with asyncio.timeout(10):
        await got_some.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert running.sim.running() == 0
    assert running.sim.stats.canceled == 1


async def test_failed_prediction_while_streaming_is_a_provider_error(
    simulator: Any, router: patchwire.Router
) -> None:
    simulator.sim.inject_fault("fail")
    with pytest.raises(ProviderError) as info:
        await collect(router, LLAMA3, simulator.url)
    (prediction,) = simulator.sim.predictions.values()
    assert info.value.prediction_id == prediction.id
    assert prediction.error in str(info.value)


async def test_stream_that_goes_quiet_ends_at_the_deadline_and_cancels(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=10, token_interval=30.0)
    with pytest.raises(Timeout) as info:
        await collect(router, LLAMA3, running.url, timeout=1.0)
    assert "timeout=1s" in str(info.value)
    assert running.sim.running() == 0


async def test_include_usage_ends_the_stream_with_the_predictions_token_counts(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=6)
    plain = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url)
    chunks = await collect(router, LLAMA3, running.url, stream_options={"include_usage": True})
    *body, last = chunks
    assert last.choices == () and last.usage == plain.usage  # the metrics Replicate reported
    assert all(c.usage is None for c in body) and text_of(body) == plain.choices[0].message.content
    without = await collect(router, LLAMA3, running.url)
    assert all(c.usage is None for c in without) and without[-1].choices[0].finish_reason == "stop"


async def test_stream_options_need_a_stream(simulator: Any, router: patchwire.Router) -> None:
    with pytest.raises(patchwire.BadRequestError, match="only allowed with stream=True"):
        await router.acompletion(
            LLAMA3, MSGS, api_key=TEST_KEY, api_base=simulator.url, stream_options={"include_usage": True}
        )
    assert simulator.sim.stats.created == 0
