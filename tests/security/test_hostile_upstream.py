"""A hostile or broken upstream: huge bodies, endless event lines, echoed keys, absurd Retry-After
hints, control characters in keys and model strings — each ends in a typed error, bounded in time and
memory, with no key in any message.

``Hostile`` is a real HTTP server on 127.0.0.1 in front of the simulator: it forwards every request
(rewriting the simulator's links to itself) except the routes a test takes over.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from support import TEST_KEY, RunningSimulator, StartSimulator

import patchwire
from patchwire.providers.replicate.simulator import Faults
from patchwire.ratelimit import MAX_BACK_OFF, cap_back_off

MODEL = "replicate/meta/meta-llama-3-8b-instruct"
MESSAGES = [{"role": "user", "content": "hi"}]
Override = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


class Hostile:
    """Forwards to the simulator, except where ``take(method, path_regex, handler)`` says otherwise
    (a handler returning None forwards after all)."""

    def __init__(self, sim_url: str) -> None:
        self.sim_url = sim_url
        self.url = ""
        self.overrides: list[tuple[str, re.Pattern[str], Override]] = []
        self._session: aiohttp.ClientSession | None = None

    def take(self, method: str, path: str, handler: Override) -> None:
        self.overrides.append((method, re.compile(path), handler))

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession() as self._session:
            try:
                yield self.url
            finally:
                await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        for method, pattern, handler in self.overrides:
            if request.method == method and pattern.fullmatch(request.path):
                answer = await handler(request)
                if answer is not None:
                    return answer
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.request(
            request.method, self.sim_url + request.path_qs, headers=headers, data=await request.read()
        ) as upstream:
            if upstream.content_type == "text/event-stream":
                response = web.StreamResponse(
                    status=upstream.status, headers={"Content-Type": "text/event-stream"}
                )
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                return response
            body = (await upstream.read()).replace(self.sim_url.encode(), self.url.encode())
            return web.Response(status=upstream.status, body=body, content_type=upstream.content_type)


@pytest.fixture
async def simulator_behind(
    start_simulator: StartSimulator,
) -> AsyncIterator[tuple[RunningSimulator, Hostile]]:
    running = await start_simulator(tokens=3)
    hostile = Hostile(running.url)
    async with hostile.serve():
        yield running, hostile


async def complete(api_base: str, **kw: Any) -> Any:
    async with patchwire.Router(**kw.pop("router", {})) as router:
        return await router.acompletion(
            MODEL, MESSAGES, api_key=kw.pop("api_key", TEST_KEY), api_base=api_base, **kw
        )


# -- 9: bodies, events and lines are capped --------------------------------------------------------


async def test_a_huge_response_body_is_a_typed_error_not_a_memory_blow_up(
    simulator_behind: tuple[RunningSimulator, Hostile], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, hostile = simulator_behind
    monkeypatch.setattr(patchwire.http, "MAX_RESPONSE_BYTES", 1 << 20)

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b'{"id": "' + b"x" * (8 << 20))  # 8 MB and no end in sight
        return response

    hostile.take("POST", r"/v1/models/.*/predictions", huge)
    started = time.monotonic()
    with pytest.raises(patchwire.ResponseTooLargeError, match="MAX_RESPONSE_BYTES"):
        await complete(hostile.url, timeout=10)
    assert time.monotonic() - started < 8


async def test_a_declared_huge_body_is_refused_before_it_is_read(
    simulator_behind: tuple[RunningSimulator, Hostile],
) -> None:
    _, hostile = simulator_behind

    async def declared(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 200 * 1024 * 1024
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b"{")
        return response

    hostile.take("POST", r"/v1/models/.*/predictions", declared)
    with pytest.raises(patchwire.ResponseTooLargeError):
        await complete(hostile.url, timeout=10)


async def test_a_small_compressed_body_that_inflates_past_the_cap_is_a_typed_error(
    simulator_behind: tuple[RunningSimulator, Hostile], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its declared length is tiny, and the client inflates it: the cap must count what is inflated.
    _, hostile = simulator_behind
    monkeypatch.setattr(patchwire.http, "MAX_RESPONSE_BYTES", 1 << 20)
    bomb = gzip.compress(b'{"id": "' + b"x" * (8 << 20) + b'"}')
    assert len(bomb) < 64 * 1024

    async def inflating(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    hostile.take("POST", r"/v1/models/.*/predictions", inflating)
    with pytest.raises(patchwire.ResponseTooLargeError, match="MAX_RESPONSE_BYTES"):
        await complete(hostile.url, timeout=10)


@pytest.mark.parametrize("shape", ["data lines without a blank line", "one endless line"])
async def test_an_event_stream_that_never_ends_an_event_or_a_line_is_a_typed_error(
    simulator_behind: tuple[RunningSimulator, Hostile], monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    _, hostile = simulator_behind
    monkeypatch.setattr(patchwire.sse, "MAX_EVENT", 1 << 20)
    monkeypatch.setattr(patchwire.sse, "MAX_LINE", 1 << 20)

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        piece = b"data: " + b"y" * 1000 + b"\n" if shape.startswith("data") else b"z" * 1000
        with contextlib.suppress(ConnectionError):
            for _ in range(20_000):  # 20 MB, far past the caps
                await response.write(piece * 16)
        return response

    hostile.take("GET", r"/v1/streams/.*", endless)
    started = time.monotonic()
    async with patchwire.Router() as router:
        with pytest.raises(patchwire.ResponseTooLargeError):
            stream = await router.acompletion(
                MODEL, MESSAGES, api_key=TEST_KEY, api_base=hostile.url, stream=True, timeout=20
            )
            async with stream:
                async for _ in stream:
                    pass
    assert time.monotonic() - started < 15


def test_an_endless_line_is_not_copied_once_per_read() -> None:
    from patchwire.sse import SSEDecoder

    decoder = SSEDecoder(max_line=64 << 20)
    piece = b"a" * 1024
    started = time.process_time()
    for _ in range(32 * 1024):  # 32 MB in 1 KB reads: quadratic copying would take minutes
        decoder.feed(piece)
    (event,) = decoder.feed(b"\ndata: x\n\n") or [None]
    assert time.process_time() - started < 5
    assert event is not None and event.data == "x"


# -- 7: Retry-After is capped ----------------------------------------------------------------------


def test_back_off_hints_are_capped() -> None:
    assert cap_back_off(math.inf) == MAX_BACK_OFF
    assert cap_back_off(math.nan) == MAX_BACK_OFF
    assert cap_back_off(3600) == MAX_BACK_OFF
    assert cap_back_off(-5) == 0
    gate = patchwire.RateGate(max_back_off=0.5)
    assert cap_back_off(3600, gate) == 0.5
    gate.back_off(math.inf)
    gate.back_off(3600)
    assert gate._paused_until - time.monotonic() <= 0.5


async def test_retry_after_an_hour_on_a_poll_waits_the_cap_and_does_not_poison_the_gate(
    start_simulator: StartSimulator,
) -> None:
    running = await start_simulator(tokens=3, latency=0.2, faults=Faults(retry_after=3600))
    gate = patchwire.RateGate(max_back_off=0.3)
    async with patchwire.Router(rate_gate=gate) as router:
        running.sim.inject_fault("429", route="get", times=1)
        running.sim.inject_fault("429", route="stream", times=1)
        started = time.monotonic()
        response = await router.acompletion(
            MODEL, MESSAGES, api_key=TEST_KEY, api_base=running.url, timeout=20
        )
        assert response.choices[0].message.content
        assert time.monotonic() - started < 10
        # A later call to the healthy upstream is not held up by the hint.
        started = time.monotonic()
        await router.acompletion(MODEL, MESSAGES, api_key=TEST_KEY, api_base=running.url, timeout=20)
        assert time.monotonic() - started < 5


# -- 3c: keys in upstream text ---------------------------------------------------------------------


async def test_a_key_echoed_by_the_upstream_never_reaches_the_message(
    simulator_behind: tuple[RunningSimulator, Hostile],
) -> None:
    _, hostile = simulator_behind
    custom_key = "custom-upstream-key-0123456789"

    async def echo(request: web.Request) -> web.Response:
        body = {"detail": f"bad request; your headers: {dict(request.headers)}"}
        return web.json_response(body, status=422)

    hostile.take("POST", r"/v1/models/.*/predictions", echo)
    for key in (TEST_KEY, custom_key):
        with pytest.raises(patchwire.BadRequestError) as caught:
            await complete(hostile.url, api_key=key, timeout=10)
        assert key not in str(caught.value)
        assert key[4:] not in str(caught.value)
        assert "[redacted]" in str(caught.value)
        assert key[4:] not in repr(caught.value.body)  # the parsed body the error keeps, too


async def test_an_r8_token_in_a_prediction_error_is_redacted(
    simulator_behind: tuple[RunningSimulator, Hostile],
) -> None:
    _, hostile = simulator_behind

    async def failed(request: web.Request) -> web.Response:
        error = f"crashed; env had REPLICATE_API_TOKEN={TEST_KEY}\r\n2026-01-01 INFO forged"
        return web.json_response({"id": "p1", "status": "failed", "error": error, "urls": {}}, status=201)

    hostile.take("POST", r"/v1/models/.*/predictions", failed)
    with pytest.raises(patchwire.ProviderError) as caught:
        await complete(hostile.url, timeout=10)
    assert TEST_KEY not in str(caught.value)
    assert "\r\n" not in str(caught.value)


# -- 10: control characters ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["r8_x\r\nX: 1", "r8_x\x00y", "r8_x\x7f", "r8_x y", "r8_é"])
async def test_a_key_with_control_characters_is_an_authentication_error(
    simulator_behind: tuple[RunningSimulator, Hostile], key: str
) -> None:
    running, _ = simulator_behind
    with pytest.raises(patchwire.AuthenticationError) as caught:
        await complete(running.url, api_key=key, timeout=5)
    assert key not in str(caught.value)


@pytest.mark.parametrize(
    "model",
    [
        "replicate/owner\n/name",
        "replicate/meta/meta-llama-3-8b-instruct\n",
        "replicate/owner/na\x00me",
        "replicate/deployments/acme\n/prod",
        "replicate/" + "a" * 64 + "\n",
    ],
)
async def test_a_model_string_with_control_characters_is_refused(model: str) -> None:
    async with patchwire.Router() as router:
        with pytest.raises(patchwire.BadRequestError):
            await router.acompletion(model, MESSAGES, api_key=TEST_KEY, api_base="http://127.0.0.1:1")
