"""Deadlines: every call ends by its timeout, whatever the server does — a black hole that accepts the
connection and reads but never answers, a stream that never starts, a stream that only sends keepalive
comments — directly and through the proxy (where it is a 408 in the OpenAI shape)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from support import TEST_KEY, StartSimulator

import patchwire
from patchwire import Timeout
from patchwire.proxy import parse_config, serve_app

LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"
MSGS = [{"role": "user", "content": "Hello"}]
#: A test that hangs past this is a bug in the deadline, reported as a failure rather than a stuck run.
GUARD = 20.0


def router_for(mode: str) -> patchwire.Router:
    return patchwire.Router(provider_options={"replicate": {"prefer_wait": 0 if mode == "poll" else 5}})


@contextlib.asynccontextmanager
async def black_hole() -> AsyncIterator[tuple[str, list[int]]]:
    """A server on 127.0.0.1 that accepts connections and reads what is sent, and never writes."""
    received: list[int] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                received.append(len(chunk))
        finally:
            writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


async def call(router: patchwire.Router, url: str, mode: str, timeout: float) -> Any:
    if mode == "stream":
        stream = await router.acompletion(
            LLAMA3, MSGS, api_key=TEST_KEY, api_base=url, stream=True, timeout=timeout
        )
        return [chunk async for chunk in stream]
    return await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=url, timeout=timeout)


@pytest.mark.parametrize("mode", ["wait", "poll", "stream"])
async def test_server_that_never_answers_ends_at_the_deadline(mode: str) -> None:
    async with black_hole() as (url, received), router_for(mode) as router:
        async with asyncio.timeout(GUARD):
            with pytest.raises(Timeout) as info:
                await call(router, url, mode, timeout=1.0)
    assert received, "the request reached the server"
    assert info.value.status_code == 408
    assert "timeout=" in str(info.value)


@pytest.mark.parametrize("mode", ["wait", "stream"])
async def test_many_calls_into_a_black_hole_all_end_at_their_deadline(mode: str) -> None:
    async with black_hole() as (url, _received), router_for(mode) as router:
        async with asyncio.timeout(GUARD):
            results = await asyncio.gather(
                *(call(router, url, mode, timeout=1.0) for _ in range(50)), return_exceptions=True
            )
    assert {type(r) for r in results} == {Timeout}


async def test_stream_that_never_starts_ends_at_the_deadline_and_cancels(
    start_simulator: StartSimulator,
) -> None:
    running = await start_simulator(tokens=50, token_interval=0.05)
    running.sim.inject_fault("hang", route="stream", times=20)
    async with router_for("stream") as router, asyncio.timeout(GUARD):
        with pytest.raises(Timeout):
            await call(router, running.url, "stream", timeout=1.5)
    assert running.sim.stats.faults["hang"] >= 1
    assert running.sim.running() == 0


async def test_stream_sending_only_keepalives_ends_at_the_deadline_and_cancels(
    start_simulator: StartSimulator,
) -> None:
    # Comments keep the socket busy (no read timeout fires): only the call's own deadline ends it.
    running = await start_simulator(tokens=5, token_interval=60.0, sse_keepalive=0.05)
    async with router_for("stream") as router, asyncio.timeout(GUARD):
        with pytest.raises(Timeout) as info:
            await call(router, running.url, "stream", timeout=1.5)
    (prediction,) = running.sim.predictions.values()
    assert info.value.prediction_id == prediction.id
    assert running.sim.running() == 0


async def test_proxy_answers_408_when_upstream_never_answers() -> None:
    async with black_hole() as (url, _received):
        config = parse_config(
            {
                "model_list": [
                    {
                        "model_name": "m",
                        "litellm_params": {"model": LLAMA3, "api_key": TEST_KEY, "api_base": url},
                    }
                ],
                "router_settings": {"timeout": 1},
            },
            source="deadline.yaml",
        )
        async with (
            serve_app(config, host="127.0.0.1", port=0) as proxy,
            aiohttp.ClientSession() as http,
            asyncio.timeout(GUARD),
        ):
            for stream in (False, True):
                body = {"model": "m", "messages": MSGS, "stream": stream}
                async with http.post(f"{proxy}/v1/chat/completions", json=body) as resp:
                    text = await resp.text()
                # A stream's response starts with its first chunk, so even then the error is a status.
                assert resp.status == 408, text
                error = orjson.loads(text)["error"]
                assert error["type"] and "timeout" in error["message"]
