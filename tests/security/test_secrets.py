"""Keys never show: one full debug run (loggers ``patchwire``, ``patchwire.proxy``, ``aiohttp`` and
``asyncio`` at DEBUG) through success, 401, 422, 429, 5xx, dropped connections, timeouts and streams,
directly and through the proxy; every log line, error message, ``repr``/``str`` of errors, requests,
contexts, routes, configs and routers, and every proxy response (status line, headers, body) is
searched for every key used — the Replicate key, a wrong Replicate key, the proxy's master key and a
wrong proxy key. The proxy's key check is constant-time (``hmac.compare_digest`` on digests)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from support import StartSimulator

import patchwire
from patchwire.interfaces import ProviderCall, ProviderContext
from patchwire.providers.replicate.simulator import Faults
from patchwire.proxy import auth, parse_config, serve_app
from patchwire.proxy.state import STATE
from patchwire.types import ChatRequest, ModelRef

REPLICATE_KEY = "r8_SECRET-replicate-5f3a9c1e7b2d"
WRONG_REPLICATE_KEY = "r8_SECRET-wrong-replicate-0a0b0c"
PROXY_KEY = "sk-SECRET-proxy-master-91ab27"
WRONG_PROXY_KEY = "sk-SECRET-wrong-proxy-44cd"
SECRETS = (REPLICATE_KEY, WRONG_REPLICATE_KEY, PROXY_KEY, WRONG_PROXY_KEY)
LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"
VICUNA = "replicate/6282abe6a492de4145d7bb601023762212f9ddbbe78278bd6771c8b3b2f2a13b"
MSGS = [{"role": "user", "content": "Hello"}]
LOGGERS = ("patchwire", "patchwire.proxy", "aiohttp", "aiohttp.access", "aiohttp.server", "asyncio")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


class Seen:
    """Everything a user, an operator or a log reader could see."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, *values: Any) -> None:
        for value in values:
            self.texts.append(value if isinstance(value, str) else f"{value!s} {value!r}")

    def error(self, exc: BaseException) -> None:
        self.add(exc, exc.args, getattr(exc, "body", None), type(exc).__name__)
        assert isinstance(exc, patchwire.PatchwireError), f"untyped error reached the caller: {exc!r}"

    def check(self, caplog: pytest.LogCaptureFixture) -> None:
        for record in caplog.records:
            self.add(record.getMessage())
            if record.exc_info:
                self.add(logging.Formatter().formatException(record.exc_info))
        self.add(caplog.text)
        blob = "\n".join(self.texts)
        for secret in SECRETS:
            assert secret not in blob, f"a key leaked: {secret[:12]}..."
            assert secret[4:] not in blob  # not even without its prefix
        assert len(caplog.records) > 20, "the debug run logged (so the check means something)"


async def run_calls(router: patchwire.Router, url: str, sim: Any, seen: Seen, *, key: str) -> None:
    async def attempt(
        expect: type[patchwire.PatchwireError] | None, model: str = LLAMA3, stream: bool = False, **kw: Any
    ) -> None:
        """One scenario; ``expect`` is the error it must end in (None: it must succeed), so each
        scenario is shown to have happened, not just labelled."""
        try:
            result = await router.acompletion(
                model, MSGS, api_key=kw.pop("api_key", key), api_base=url, stream=stream, **kw
            )
            if stream:
                seen.add(*[chunk async for chunk in result])
            else:
                seen.add(result)
        except patchwire.PatchwireError as exc:
            seen.error(exc)
            assert expect is not None and isinstance(exc, expect), f"expected {expect}, got {exc!r}"
        else:
            assert expect is None, f"expected {expect.__name__}, but the call succeeded"

    def creates() -> int:
        return int(sim.stats.by_route["create"])

    await attempt(None)  # success
    await attempt(None, stream=True)  # streamed success
    before = creates()
    await attempt(patchwire.AuthenticationError, api_key=WRONG_REPLICATE_KEY)  # 401
    await attempt(patchwire.AuthenticationError, api_key=WRONG_REPLICATE_KEY, stream=True)
    assert creates() > before  # Replicate itself refused the key
    before = creates()
    await attempt(patchwire.BadRequestError, VICUNA, repetition_penalty=99)  # 422
    assert creates() == before + 1  # the create was sent: the refusal was Replicate's 422
    sim.set_faults(Faults(retry_after=30, statuses_5xx=(500,)))
    sim.inject_fault("429", route="create")
    await attempt(patchwire.RateLimitError, timeout=3)  # 429 beyond the deadline
    sim.inject_fault("5xx", route="create")
    # A 500 or a dropped connection on create: the list shows no prediction was made, so it is sent
    # again (the error path of a lost create is the one below that finds it).
    await attempt(None)  # 500 on create
    sim.inject_fault("drop", route="create")
    await attempt(None)  # dropped connection
    sim.inject_fault("drop_after_create", route="create")
    await attempt(None)  # lost create found again
    sim.inject_fault("5xx", route="get", times=2)
    sim.inject_fault("drop", route="get")
    await attempt(None)  # flaky reads
    sim.inject_fault("cut_stream")
    await attempt(None, stream=True)  # cut stream resumed
    sim.inject_fault("hang", route="create")
    await attempt(patchwire.Timeout, timeout=1)  # timeout
    sim.inject_fault("fail")
    await attempt(patchwire.ProviderError)  # failed prediction
    injected = {"429", "5xx", "drop", "drop_after_create", "cut_stream", "hang", "fail"}
    assert injected <= set(sim.stats.faults), sim.stats.faults  # each fault really happened


async def test_full_debug_run_leaks_no_key(
    start_simulator: StartSimulator, debug_logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = await start_simulator(tokens=4, api_keys={REPLICATE_KEY}, sync_status="processing")
    seen = Seen()
    router = patchwire.Router(rate_gate=patchwire.RateGate(per_minute=1000), max_concurrency=50)
    async with router:
        await run_calls(router, running.url, running.sim, seen, key=REPLICATE_KEY)
        # The key from the environment (REPLICATE_API_KEY) instead of api_key=.
        monkeypatch.setenv("REPLICATE_API_KEY", REPLICATE_KEY)
        seen.add(await router.acompletion(LLAMA3, MSGS, api_base=running.url))
        seen.add(router, router.routes, router.rate_gate)
    # The objects a call is made of, holding the key.
    ref = ModelRef(provider="replicate", raw="meta/x", owner="meta", name="x")
    request = ChatRequest(model=LLAMA3, ref=ref, messages=(), params={}, api_key=REPLICATE_KEY)
    async with aiohttp.ClientSession() as session:
        context = ProviderContext(session=session, api_key=REPLICATE_KEY, api_base=running.url, deadline=0.0)
        seen.add(request, context, ProviderCall(request=request, inputs={}, context=context))
    route = patchwire.ModelRoute(model=LLAMA3, api_key=REPLICATE_KEY)
    seen.add(route, patchwire.Router(routes={"m": [route]}).routes)
    seen.check(debug_logs)


def proxy_config(url: str) -> Any:
    return parse_config(
        {
            "model_list": [
                {
                    "model_name": "llama-3",
                    "litellm_params": {
                        "model": LLAMA3,
                        "api_key": "os.environ/UPSTREAM_KEY",
                        "api_base": url,
                    },
                },
                {
                    "model_name": "wrong-upstream",
                    "litellm_params": {"model": LLAMA3, "api_key": WRONG_REPLICATE_KEY, "api_base": url},
                },
            ],
            "general_settings": {"master_key": "os.environ/MASTER_KEY"},
            "router_settings": {"timeout": 3},
        },
        source="secrets.yaml",
    )


async def test_proxy_debug_run_leaks_no_key(
    start_simulator: StartSimulator, debug_logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_KEY", REPLICATE_KEY)
    monkeypatch.setenv("MASTER_KEY", PROXY_KEY)
    running = await start_simulator(tokens=4, api_keys={REPLICATE_KEY})
    sim = running.sim
    seen = Seen()
    config = proxy_config(running.url)
    seen.add(config, config.routes, config.keys and "keys hidden")
    statuses = []
    async with serve_app(config, host="127.0.0.1", port=0) as url, aiohttp.ClientSession() as http:

        async def post(body: dict[str, Any], key: str = PROXY_KEY, auth_header: str | None = None) -> None:
            headers = {"Authorization": auth_header or f"Bearer {key}"}
            async with http.post(f"{url}/v1/chat/completions", json=body, headers=headers) as resp:
                statuses.append(resp.status)
                seen.add(str(resp.status), resp.reason or "", dict(resp.headers), await resp.text())

        await post({"model": "llama-3", "messages": MSGS})
        await post({"model": "llama-3", "messages": MSGS, "stream": True})
        await post({"model": "llama-3", "messages": MSGS}, key=WRONG_PROXY_KEY)
        await post({"model": "llama-3", "messages": MSGS}, auth_header=f"Token {PROXY_KEY}")
        await post({"model": "wrong-upstream", "messages": MSGS})
        await post({"model": "wrong-upstream", "messages": MSGS, "stream": True})
        await post({"model": f"llama-3 {PROXY_KEY}", "messages": MSGS}, key=WRONG_PROXY_KEY)
        await post({"model": "llama-3", "messages": MSGS, "api_key": WRONG_REPLICATE_KEY})
        await post({"model": "llama-3", "messages": MSGS, "repetition_penalty": "x"})
        sim.set_faults(Faults(retry_after=30, statuses_5xx=(500,)))
        for fault, route in (("429", "create"), ("5xx", "create"), ("drop", "create"), ("hang", "create")):
            sim.inject_fault(fault, route=route)
            await post({"model": "llama-3", "messages": MSGS})
        sim.inject_fault("cut_stream")
        await post({"model": "llama-3", "messages": MSGS, "stream": True})
        for path in ("/v1/models", "/health/readiness", "/v1/models/llama-3"):
            async with http.get(f"{url}{path}", headers={"Authorization": f"Bearer {PROXY_KEY}"}) as resp:
                seen.add(dict(resp.headers), await resp.text())
    # Each scenario happened as labelled: success, stream, wrong proxy key, wrong auth scheme, wrong
    # upstream key (plain and streamed), a key in the model name, a key in the body, a bad value,
    # then 429, 500 and a dropped create (each shown to have made nothing, so sent again), a hang past
    # the deadline, a cut stream.
    assert statuses == [200, 200, 401, 401, 401, 401, 401, 400, 400, 429, 200, 200, 408, 200], statuses
    assert {"429", "5xx", "drop", "hang", "cut_stream"} <= set(sim.stats.faults), sim.stats.faults
    seen.check(debug_logs)


def test_proxy_state_and_checker_hold_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from patchwire.proxy import create_app

    monkeypatch.setenv("UPSTREAM_KEY", REPLICATE_KEY)
    monkeypatch.setenv("MASTER_KEY", PROXY_KEY)
    state = create_app(proxy_config("http://127.0.0.1:9"))[STATE]
    seen = Seen()
    seen.add(state, state.checker, state.config, state.router)
    blob = "\n".join(seen.texts)
    assert not any(secret in blob for secret in SECRETS)
    # Digests only: the checker cannot give the key back.
    assert not any(PROXY_KEY in repr(v) for v in vars(auth).values())
    assert state.checker.allows(f"Bearer {PROXY_KEY}") and not state.checker.allows(
        f"Bearer {WRONG_PROXY_KEY}"
    )


def test_key_check_is_constant_time_over_digests() -> None:
    # Equal-length digests compared with hmac.compare_digest, every configured key, no early exit.
    checker = auth.KeyChecker(["k1", "k2"])
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    with contextlib.ExitStack() as stack:
        stack.enter_context(pytest.MonkeyPatch.context()).setattr(auth.hmac, "compare_digest", spy)
        assert checker.allows("Bearer k1")
        assert not checker.allows("Bearer a-much-longer-wrong-key")
    assert len(calls) == 4  # both keys compared both times, even after the first matched
    assert {len(a) for a, _ in calls} == {len(b) for _, b in calls} == {32}


async def test_cancelled_calls_log_no_key(
    start_simulator: StartSimulator, debug_logs: pytest.LogCaptureFixture
) -> None:
    running = await start_simulator(tokens=200, token_interval=0.02)
    seen = Seen()
    async with patchwire.Router() as router:
        tasks = [
            asyncio.ensure_future(
                router.acompletion(
                    LLAMA3, MSGS, api_key=REPLICATE_KEY, api_base=running.url, stream=i % 2 == 0
                )
            )
            for i in range(10)
        ]
        await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if not isinstance(result, asyncio.CancelledError):
                seen.add(result)
                if isinstance(result, patchwire.Stream):
                    await result.aclose()
        for _ in range(3):
            seen.add(
                await router.acompletion(
                    LLAMA3, MSGS, api_key=REPLICATE_KEY, api_base=running.url, max_tokens=2
                )
            )
    seen.check(debug_logs)
