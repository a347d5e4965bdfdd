"""The proxy's HTTP behaviour over real sockets, with a small in-test provider behind it.

The provider (``fake/...``) records what reaches it and can hang, fail or stream forever on request, so
the proxy's own behaviour (auth, errors, streaming, cancellation, shutdown) is tested without Replicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from support import wait_for

import patchwire
from patchwire.proxy import parse_config, serve_app
from patchwire.proxy.app import check_exposure

KEY = "sk-proxy-test-1234"
SYSTEM: Any = {"role": "system", "content": "Be a good human!"}
USER: Any = {"role": "user", "content": "What do you know about earth?"}


class FakeProvider:
    """Answers ``fake/<anything>``. Inputs steer it: ``hang`` (never answers), ``explode`` (a bug),
    ``rate_limited``, ``hang_stream`` (streams two chunks then waits forever), ``fail_stream``."""

    name = "fake"
    wants_prompt = False

    def __init__(self) -> None:
        self.calls: list[patchwire.ProviderCall] = []
        self.running = 0
        self.cancelled = 0
        self.release: asyncio.Event | None = None

    def parse_model(self, raw: str) -> patchwire.ModelRef:
        owner, _, name = raw.partition("/")
        return patchwire.ModelRef(provider="fake", raw=raw, owner=owner, name=name or None)

    async def input_schema(self, ref: patchwire.ModelRef, context: Any) -> None:
        return None

    @contextlib.asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        self.running += 1
        try:
            yield
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1

    async def complete(self, call: patchwire.ProviderCall) -> patchwire.ChatResponse:
        self.calls.append(call)
        async with self._running():
            if call.inputs.get("hang"):
                await asyncio.Event().wait()
            if call.inputs.get("wait_release"):
                assert self.release is not None
                await self.release.wait()
            if call.inputs.get("explode"):
                raise RuntimeError("secret internals: r8_do-not-show")
            if call.inputs.get("rate_limited"):
                raise patchwire.RateLimitError("slow down", retry_after=7)
            return patchwire.ChatResponse(
                id=f"pred-{len(self.calls)}",
                created=1700000000,
                model=call.request.model,
                choices=(patchwire.Choice(0, patchwire.Message("assistant", "Earth is round.")),),
                usage=patchwire.Usage(5, 3, 8),
            )

    async def stream(self, call: patchwire.ProviderCall) -> AsyncIterator[patchwire.ChatChunk]:
        self.calls.append(call)
        return self._chunks(call)

    async def _chunks(self, call: patchwire.ProviderCall) -> AsyncIterator[patchwire.ChatChunk]:
        async with self._running():
            for i, text in enumerate(["Earth", " is", " round."]):
                delta = patchwire.Delta(role="assistant" if i == 0 else None, content=text)
                yield patchwire.ChatChunk(
                    id="pred-s",
                    created=1700000000,
                    model=call.request.model,
                    choices=(patchwire.ChunkChoice(0, delta),),
                )
                if i == 1 and call.inputs.get("hang_stream"):
                    await asyncio.Event().wait()
                if i == 1 and call.inputs.get("fail_stream"):
                    raise patchwire.ProviderError("the prediction failed: out of memory")
            yield patchwire.ChatChunk(
                id="pred-s",
                created=1700000000,
                model=call.request.model,
                choices=(patchwire.ChunkChoice(0, patchwire.Delta(), finish_reason="stop"),),
            )


class FakePlugin:
    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider

    @patchwire.hookimpl
    def patchwire_providers(self) -> list[FakeProvider]:
        return [self.provider]


def make_config(**extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "model_list": [
            {
                "model_name": "llama-3",
                "litellm_params": {"model": "fake/meta/llama", "max_tokens": 20, "temperature": 0.5},
            }
        ],
        "general_settings": {"master_key": KEY},
    }
    config.update(extra)
    return config


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def plugins(provider: FakeProvider) -> patchwire.Plugins:
    plugins = patchwire.Plugins(load_entrypoints=False)
    plugins.register(FakePlugin(provider), name="fake-provider")
    return plugins


Start = Callable[..., Any]


@pytest.fixture
async def start_proxy(plugins: patchwire.Plugins) -> AsyncIterator[Start]:
    """``url = await start_proxy(config_dict, grace=...)``: a proxy on 127.0.0.1, stopped at the end."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(config: dict[str, Any] | None = None, **kw: Any) -> str:
            parsed = parse_config(config or make_config(), source="test.yaml")
            return await stack.enter_async_context(
                serve_app(parsed, host="127.0.0.1", port=0, plugins=plugins, **kw)
            )

        yield start


@pytest.fixture
async def proxy_url(start_proxy: Start) -> str:
    url: str = await start_proxy()
    return url


@pytest.fixture
async def client(proxy_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{proxy_url}/v1", api_key=KEY, max_retries=0) as c:
        yield c


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


AUTH = {"Authorization": f"Bearer {KEY}"}


# -- LiteLLM's calls ----------------------------------------------------------------------------


async def test_chat_completion_with_openai_client(client: openai.AsyncOpenAI, provider: FakeProvider) -> None:
    response = await client.chat.completions.create(model="llama-3", messages=[SYSTEM, USER])
    assert response.choices[0].message.content == "Earth is round."
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.total_tokens == 8
    (call,) = provider.calls
    assert [m.content for m in call.request.messages] == [SYSTEM["content"], USER["content"]]
    # The config's defaults reach the model; the alias is resolved to the configured model.
    assert call.inputs == {"max_tokens": 20, "temperature": 0.5}
    assert call.request.model == "fake/meta/llama"


async def test_request_parameters_override_config_defaults_and_extras_pass_through(
    client: openai.AsyncOpenAI, provider: FakeProvider
) -> None:
    await client.chat.completions.create(
        model="llama-3",
        messages=[USER],
        max_tokens=5,
        extra_body={"top_k": 20, "min_tokens": 2, "store": True},
    )
    (call,) = provider.calls
    # store is an OpenAI platform feature: it must not become a model input.
    assert call.inputs == {"max_tokens": 5, "temperature": 0.5, "top_k": 20, "min_tokens": 2}


async def test_streamed_chat_completion_with_openai_client(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="llama-3",
        messages=[SYSTEM, USER],
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Earth is round."
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.object for c in chunks} == {"chat.completion.chunk"}


async def test_stream_is_server_sent_events_ending_with_done(
    proxy_url: str, http: aiohttp.ClientSession
) -> None:
    body = {"model": "llama-3", "messages": [USER], "stream": True}
    async with http.post(f"{proxy_url}/chat/completions", json=body, headers=AUTH) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/event-stream"
        raw = await resp.read()
    events = raw.split(b"\n\n")
    assert events[-2:] == [b"data: [DONE]", b""]
    payloads = [orjson.loads(e.removeprefix(b"data: ")) for e in events[:-2]]
    assert [p["choices"][0]["delta"].get("content") for p in payloads] == ["Earth", " is", " round.", None]


async def test_models_list_and_retrieve(client: openai.AsyncOpenAI) -> None:
    models = [m async for m in client.models.list()]
    assert [m.id for m in models] == ["llama-3"]
    assert models[0].object == "model"
    assert (await client.models.retrieve("llama-3")).id == "llama-3"
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("gpt-4")


async def test_litellm_curl_body_with_trailing_comma_is_a_helpful_400(
    proxy_url: str, http: aiohttp.ClientSession
) -> None:
    # Exactly LiteLLM's curl --data: note the trailing comma after the messages list.
    litellm_body = """{
"model": "llama-3",
"messages": [
{
"role": "system",
"content": "Be a good human!"
},
{
"role": "user",
"content": "What do you know about earth?"
}
],
}"""
    headers = {**AUTH, "Content-Type": "application/json"}
    async with http.post(f"{proxy_url}/chat/completions", data=litellm_body, headers=headers) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert "not valid JSON" in error["message"] and "trailing comma" in error["message"]

    fixed = litellm_body.replace("],\n}", "]\n}")
    async with http.post(f"{proxy_url}/chat/completions", data=fixed, headers=headers) as resp:
        assert resp.status == 200
        answer = await resp.json()
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "Earth is round."}


# -- auth --------------------------------------------------------------------------------------


async def test_wrong_key_raises_authentication_error(proxy_url: str) -> None:
    async with openai.AsyncOpenAI(base_url=f"{proxy_url}/v1", api_key="sk-wrong", max_retries=0) as c:
        with pytest.raises(openai.AuthenticationError) as info:
            await c.chat.completions.create(model="llama-3", messages=[USER])
    assert "sk-wrong" not in str(info.value)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),
        ("POST", "/chat/completions"),
        ("GET", "/v1/models"),
        ("GET", "/models"),
        ("GET", "/v1/models/llama-3"),
        ("POST", "/v1/completions"),
        ("POST", "/completions"),
        ("GET", "/no/such/path"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer sk-wrong", f"Token {KEY}", "Bearer "])
async def test_every_endpoint_but_health_refuses_missing_or_wrong_key(
    proxy_url: str, http: aiohttp.ClientSession, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = {"model": "llama-3", "messages": [USER]}
    async with http.request(method, f"{proxy_url}{path}", json=body, headers=headers) as resp:
        assert resp.status == 401
        error = (await resp.json())["error"]
    assert error["type"] == "authentication_error"
    assert "Bearer" in error["message"]


@pytest.mark.parametrize("path", ["/health", "/health/liveness", "/health/liveliness", "/health/readiness"])
async def test_health_probes_need_no_key_and_reveal_nothing(
    proxy_url: str, http: aiohttp.ClientSession, path: str
) -> None:
    # Kubernetes probes written for LiteLLM carry no key; they learn "up" and nothing about the config.
    async with http.get(f"{proxy_url}{path}", headers={"Authorization": "Bearer sk-wrong"}) as resp:
        assert resp.status == 200
        body = await resp.json()
        text = await resp.text()
    assert body in ({"status": "ok"}, {"status": "ready"})
    assert "llama-3" not in text and KEY not in text


async def test_any_configured_key_is_accepted(
    start_proxy: Start, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_KEY", "sk-team")
    url = await start_proxy(make_config(keys=["sk-other", "os.environ/TEAM_KEY"]))
    for key in (KEY, "sk-other", "sk-team"):
        async with http.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}) as resp:
            assert resp.status == 200, key


async def test_without_keys_loopback_serves_anyone(start_proxy: Start, http: aiohttp.ClientSession) -> None:
    config = make_config()
    del config["general_settings"]
    url = await start_proxy(config)
    async with http.get(f"{url}/v1/models") as resp:
        assert resp.status == 200


def test_without_keys_a_public_host_is_refused_unless_allowed() -> None:
    config = make_config()
    del config["general_settings"]
    parsed = parse_config(config, source="open.yaml")
    with pytest.raises(patchwire.ConfigError) as info:
        check_exposure(parsed, "0.0.0.0", allow_unauthenticated=False)
    assert "open.yaml" in str(info.value) and "--allow-unauthenticated" in str(info.value)
    check_exposure(parsed, "0.0.0.0", allow_unauthenticated=True)
    check_exposure(parsed, "::1", allow_unauthenticated=False)
    check_exposure(parse_config(make_config()), "0.0.0.0", allow_unauthenticated=False)


# -- errors ------------------------------------------------------------------------------------


async def test_unknown_model_is_not_found_listing_available_ones(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        await client.chat.completions.create(model="gpt-4", messages=[USER])
    assert "llama-3" in info.value.message


async def test_provider_model_strings_are_not_served_directly(client: openai.AsyncOpenAI) -> None:
    # Only configured aliases: clients must not spend the proxy's keys on arbitrary models.
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="fake/meta/llama", messages=[USER])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [USER]}, "model"),
        ({"model": 3, "messages": [USER]}, "model"),
        ({"model": "llama-3"}, "messages"),
        ({"model": "llama-3", "messages": "hi"}, "messages"),
        ({"model": "llama-3", "messages": []}, "messages"),
        ({"model": "llama-3", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "llama-3", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "llama-3", "messages": [USER], "temperature": "hot"}, "temperature"),
        ({"model": "llama-3", "messages": [USER], "max_tokens": -1}, "max_tokens"),
        ({"model": "llama-3", "messages": [USER], "stream": "yes"}, "stream"),
        ({"model": "llama-3", "messages": [USER], "timeout": "soon"}, "timeout"),
        ({"model": "llama-3", "messages": [USER], "tools": [{"type": "function"}]}, "tools"),
        ({"model": "llama-3", "messages": [USER], "api_base": "http://evil.example"}, "api_base"),
        ({"model": "llama-3", "messages": [USER], "api_key": "r8_other"}, "api_key"),
        ({"model": "llama-3", "messages": [USER], "prompt": "raw"}, "prompt"),
        ({"model": "llama-3", "messages": [USER], "self": 1}, "self"),
    ],
)
async def test_wrong_fields_are_400_naming_the_field(
    proxy_url: str, http: aiohttp.ClientSession, provider: FakeProvider, body: dict[str, Any], param: str
) -> None:
    async with http.post(f"{proxy_url}/v1/chat/completions", json=body, headers=AUTH) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert provider.calls == []


@pytest.mark.parametrize("raw", [b"", b"[1, 2]", b'"text"', b"{nope", b"\xff\xfe"])
async def test_bodies_that_are_not_a_json_object_are_400(
    proxy_url: str, http: aiohttp.ClientSession, raw: bytes
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    async with http.post(f"{proxy_url}/v1/chat/completions", data=raw, headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["type"] == "invalid_request_error"


async def test_body_over_the_size_limit_is_413(start_proxy: Start, http: aiohttp.ClientSession) -> None:
    config = make_config(general_settings={"master_key": KEY, "max_request_size_mb": 0.01})
    url = await start_proxy(config)
    big = {"model": "llama-3", "messages": [{"role": "user", "content": "x" * 20_000}]}
    async with http.post(f"{url}/v1/chat/completions", json=big, headers=AUTH) as resp:
        assert resp.status == 413
        error = (await resp.json())["error"]
    assert "max_request_size_mb" in error["message"]
    small = {"model": "llama-3", "messages": [USER]}
    async with http.post(f"{url}/v1/chat/completions", json=small, headers=AUTH) as resp:
        assert resp.status == 200


async def test_a_bug_behind_the_proxy_is_a_generic_500_with_the_traceback_only_in_the_log(
    proxy_url: str, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"model": "llama-3", "messages": [USER], "explode": True}
    with caplog.at_level(logging.INFO, logger="patchwire.proxy"):
        async with http.post(f"{proxy_url}/v1/chat/completions", json=body, headers=AUTH) as resp:
            assert resp.status == 500
            text = await resp.text()
    assert orjson.loads(text)["error"]["type"] == "api_error"
    assert "Traceback" not in text and "r8_do-not-show" not in text
    assert any(r.exc_info and "r8_do-not-show" in str(r.exc_info[1]) for r in caplog.records)


async def test_patchwire_errors_keep_their_status_and_retry_after(
    proxy_url: str, client: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(
            model="llama-3",
            messages=[USER],
            extra_body={"rate_limited": True},
        )
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.message.endswith("slow down")


async def test_unknown_path_and_wrong_method_are_openai_shaped(
    proxy_url: str, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{proxy_url}/v1/embeddings", headers=AUTH) as resp:
        assert resp.status == 404
        assert "/v1/chat/completions" in (await resp.json())["error"]["message"]
    async with http.get(f"{proxy_url}/v1/chat/completions", headers=AUTH) as resp:
        assert resp.status == 405
        assert (await resp.json())["error"]["type"] == "invalid_request_error"


async def test_error_after_the_stream_started_is_the_last_event(
    proxy_url: str, http: aiohttp.ClientSession, client: openai.AsyncOpenAI
) -> None:
    body = {"model": "llama-3", "messages": [USER], "stream": True, "fail_stream": True}
    async with http.post(f"{proxy_url}/v1/chat/completions", json=body, headers=AUTH) as resp:
        assert resp.status == 200
        events = (await resp.read()).split(b"\n\n")
    assert b"[DONE]" not in b"".join(events)
    last = orjson.loads(events[-2].removeprefix(b"data: "))
    assert last["error"]["type"] == "provider_error"
    assert "out of memory" in last["error"]["message"]

    stream = await client.chat.completions.create(
        model="llama-3",
        messages=[USER],
        stream=True,
        extra_body={"fail_stream": True},
    )
    with pytest.raises(openai.APIError, match="out of memory"):
        async for _ in stream:
            pass


# -- cancellation and shutdown -------------------------------------------------------------------


async def test_client_disconnect_mid_stream_cancels_upstream(proxy_url: str, provider: FakeProvider) -> None:
    body = {"model": "llama-3", "messages": [USER], "stream": True, "hang_stream": True}
    async with aiohttp.ClientSession() as session:
        resp = await session.post(f"{proxy_url}/v1/chat/completions", json=body, headers=AUTH)
        first = await resp.content.readuntil(b"\n\n")
        assert b"Earth" in first
        assert provider.running == 1
        resp.close()  # the client goes away mid-stream
    await wait_for(lambda: provider.running == 0, timeout=5.0)
    assert provider.cancelled == 1


async def test_client_disconnect_mid_request_cancels_upstream(proxy_url: str, provider: FakeProvider) -> None:
    body = {"model": "llama-3", "messages": [USER], "hang": True}

    async def call() -> None:
        async with aiohttp.ClientSession() as session:
            await session.post(f"{proxy_url}/v1/chat/completions", json=body, headers=AUTH)

    task = asyncio.create_task(call())
    await wait_for(lambda: provider.running == 1, timeout=5.0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await wait_for(lambda: provider.running == 0, timeout=5.0)
    assert provider.cancelled == 1


async def test_shutdown_finishes_in_flight_requests_and_stops_accepting(
    plugins: patchwire.Plugins, provider: FakeProvider
) -> None:
    provider.release = asyncio.Event()
    server = serve_app(parse_config(make_config()), host="127.0.0.1", port=0, plugins=plugins, grace=30)
    url = await server.__aenter__()
    body = {"model": "llama-3", "messages": [USER], "wait_release": True}
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.post(f"{url}/v1/chat/completions", json=body, headers=AUTH))
        await wait_for(lambda: provider.running == 1, timeout=5.0)
        shutdown = asyncio.create_task(server.__aexit__(None, None, None))

        async def refused() -> bool:
            try:
                async with aiohttp.ClientSession() as other, other.get(f"{url}/health"):
                    return False
            except aiohttp.ClientConnectionError:
                return True

        deadline = time.monotonic() + 5
        while not await refused():
            assert time.monotonic() < deadline, "the proxy kept accepting connections while draining"
        provider.release.set()
        resp = await request
        assert resp.status == 200
        assert (await resp.json())["choices"][0]["message"]["content"] == "Earth is round."
        await shutdown
    assert provider.cancelled == 0


async def test_shutdown_cancels_what_outlives_the_grace_period_and_answers_503(
    plugins: patchwire.Plugins, provider: FakeProvider
) -> None:
    server = serve_app(parse_config(make_config()), host="127.0.0.1", port=0, plugins=plugins, grace=0.05)
    url = await server.__aenter__()
    body = {"model": "llama-3", "messages": [USER], "hang": True}
    streamed = {**body, "stream": True, "hang": False, "hang_stream": True}
    async with aiohttp.ClientSession() as session:

        async def call(payload: dict[str, Any]) -> tuple[int, bytes]:
            async with session.post(f"{url}/v1/chat/completions", json=payload, headers=AUTH) as resp:
                return resp.status, await resp.read()

        plain = asyncio.create_task(call(body))
        stream = asyncio.create_task(call(streamed))
        await wait_for(lambda: provider.running == 2, timeout=5.0)
        await server.__aexit__(None, None, None)
        # Not a dropped connection: an OpenAI-shaped 503 (or, mid-stream, a last error event).
        status, raw = await plain
        assert status == 503, raw
        assert orjson.loads(raw)["error"]["type"] == "service_unavailable_error"
        status, raw = await stream
        assert status == 200
        last = raw.strip().split(b"\n\n")[-1]
        assert orjson.loads(last.removeprefix(b"data: "))["error"]["code"] == "shutting_down"
    assert provider.running == 0
    assert provider.cancelled == 2


# -- routing and logs ----------------------------------------------------------------------------


async def test_entries_sharing_a_name_take_turns(
    start_proxy: Start, client: openai.AsyncOpenAI, provider: FakeProvider, http: aiohttp.ClientSession
) -> None:
    config = make_config()
    config["model_list"] = [
        {"model_name": "llama-3", "litellm_params": {"model": "fake/a/one", "api_base": "http://one"}},
        {"model_name": "llama-3", "params": {"model": "fake/b/two", "api_base": "http://two"}},
    ]
    url = await start_proxy(config)
    for _ in range(4):
        body = {"model": "llama-3", "messages": [USER]}
        async with http.post(f"{url}/v1/chat/completions", json=body, headers=AUTH) as resp:
            assert resp.status == 200
    assert [c.context.api_base for c in provider.calls] == ["http://one", "http://two"] * 2


async def test_one_log_line_per_request_without_the_key(
    proxy_url: str, client: openai.AsyncOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="patchwire.proxy"):
        await client.chat.completions.create(model="llama-3", messages=[USER])
    lines = [r.getMessage() for r in caplog.records if r.name == "patchwire.proxy"]
    assert len(lines) == 1
    (line,) = lines
    assert line.startswith("POST /v1/chat/completions 200 model=llama-3 duration=")
    assert line.endswith("prediction=pred-1")
    assert KEY not in caplog.text
