"""LiteLLM's call options, fallbacks and cooldowns, against the simulator over real HTTP.

num_retries bounds each request's retries; mock_response answers with no request at all; a failing model
(rate limited, 5xx, missing) falls back to the next with its prediction cancelled; an unknown outcome
never falls back unless asked; a deployment that keeps failing cools down, then recovers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import TEST_KEY

import patchwire
from patchwire.cooldowns import LocalCooldowns
from patchwire.providers.replicate.provider import ReplicateProvider
from patchwire.providers.replicate.simulator import Faults

USER: Any = [{"role": "user", "content": "Hello"}]
LLAMA = "replicate/meta/meta-llama-3-8b-instruct"
MISTRAL = "replicate/mistralai/mistral-7b-instruct-v0.2"
MISSING = "replicate/acme/no-such-model"


@pytest.fixture
async def sim(start_simulator: Any) -> Any:
    # Injected 5xx are 500s: a 503 would be a refusal (retried), not a create of unknown outcome.
    return await start_simulator(tokens=3, faults=Faults(retry_after=0, statuses_5xx=(500,)))


def polling_plugins() -> patchwire.Plugins:
    """Create without waiting, then poll: a prediction is still running when its first poll fails."""
    plugins = patchwire.Plugins()
    plugins.register_providers(ReplicateProvider(prefer_wait=0))
    return plugins


@pytest.fixture
async def router(sim: Any) -> AsyncIterator[patchwire.Router]:
    routes = {
        name: [patchwire.ModelRoute(model, api_base=sim.url, api_key=TEST_KEY)]
        for name, model in (("llama-3", LLAMA), ("mistral-7b", MISTRAL), ("missing", MISSING))
    }
    async with patchwire.Router(routes=routes) as r:
        yield r


def creates(sim: Any) -> int:
    return int(sim.sim.stats.by_route["create"])


# -- num_retries ----------------------------------------------------------------------------------


async def test_num_retries_bounds_the_retries_of_a_refused_create(sim: Any) -> None:
    kw: Any = {"api_base": sim.url, "api_key": TEST_KEY}
    sim.sim.inject_fault("429", route="create", times=2)
    with pytest.raises(patchwire.RateLimitError):
        await patchwire.acompletion(LLAMA, USER, num_retries=1, **kw)
    assert creates(sim) == 2  # the try and one retry
    sim.sim.inject_fault("429", route="create", times=2)
    response = await patchwire.acompletion(LLAMA, USER, num_retries=2, **kw)
    assert response.choices[0].message.content
    assert creates(sim) == 2 + 3
    (prediction,) = sim.sim.predictions.values()
    assert "num_retries" not in prediction.input


async def test_num_retries_zero_fails_a_poll_at_once_and_cancels_the_prediction(start_simulator: Any) -> None:
    sim = await start_simulator(latency=0.3, tokens=3)
    async with patchwire.Router(plugins=polling_plugins()) as router:
        sim.sim.inject_fault("5xx", route="get", times=1)
        with pytest.raises(patchwire.ServiceUnavailableError):
            await router.acompletion(LLAMA, USER, api_base=sim.url, api_key=TEST_KEY, num_retries=0)
    (prediction,) = sim.sim.predictions.values()
    assert prediction.status(prediction.end) == "canceled"


@pytest.mark.parametrize("value", [-1, "3", 1.5, True])
async def test_bad_num_retries_is_a_bad_request(sim: Any, value: Any) -> None:
    with pytest.raises(patchwire.BadRequestError, match="num_retries") as info:
        await patchwire.acompletion(LLAMA, USER, api_base=sim.url, api_key=TEST_KEY, num_retries=value)
    assert info.value.param == "num_retries"
    assert not sim.sim.predictions


# -- mock_response ---------------------------------------------------------------------------------


async def test_mock_response_answers_with_no_request(sim: Any) -> None:
    kw: Any = {"api_base": sim.url, "api_key": TEST_KEY, "mock_response": "Hello world"}
    response = await patchwire.acompletion(LLAMA, USER, **kw)
    assert response.choices[0].message.content == "Hello world"
    usage: Any = {"include_usage": True}
    stream = await patchwire.acompletion(LLAMA, USER, stream=True, stream_options=usage, **kw)
    async with stream:
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello world"
    assert chunks[-1].usage is not None
    error = patchwire.RateLimitError("a test's own error")
    with pytest.raises(patchwire.RateLimitError) as info:
        await patchwire.acompletion(LLAMA, USER, api_base=sim.url, mock_response=error)
    assert info.value is error
    with pytest.raises(patchwire.BadRequestError, match="provider prefix"):
        await patchwire.acompletion("llama", USER, mock_response="x")  # the call is still checked
    assert sim.sim.stats.requests_total == 0


async def test_call_options_never_reach_the_model(sim: Any) -> None:
    seen: list[patchwire.ProviderCall] = []

    class Spy:
        name = "spy"

        async def wrap(self, call: patchwire.ProviderCall, call_next: Any) -> Any:
            seen.append(call)
            return await call_next(call)

    class SpyPlugin:
        @patchwire.hookimpl
        def patchwire_call_wrappers(self) -> list[Spy]:
            return [Spy()]

    plugins = patchwire.Plugins()
    plugins.register(SpyPlugin())
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion(
            LLAMA,
            USER,
            base_url=sim.url,
            api_key=TEST_KEY,
            request_timeout=30,
            num_retries=3,
            metadata={"trace": "abc"},
            user="user-7",
        )
    (call,) = seen
    assert call.request.metadata == {"trace": "abc"} and call.request.user == "user-7"
    assert call.request.api_base == sim.url and call.request.timeout == 30
    (prediction,) = sim.sim.predictions.values()
    assert set(prediction.input) == {"prompt", "prompt_template"}


async def test_an_unknown_option_is_refused_with_the_drop_params_hint(sim: Any) -> None:
    kw: Any = {"api_base": sim.url, "api_key": TEST_KEY}
    with pytest.raises(patchwire.BadRequestError, match="drop_params=True") as info:
        await patchwire.acompletion(LLAMA, USER, caching=True, **kw)
    assert info.value.param == "caching"
    response = await patchwire.acompletion(LLAMA, USER, caching=True, drop_params=True, **kw)
    assert response.choices[0].message.content
    assert "caching" not in next(iter(sim.sim.predictions.values())).input


# -- fallbacks --------------------------------------------------------------------------------------


async def test_rate_limited_model_falls_back_to_the_next(router: patchwire.Router, sim: Any) -> None:
    sim.sim.inject_fault("429", route="create", times=1)
    response = await router.acompletion("llama-3", USER, num_retries=0, fallbacks=["mistral-7b"])
    (prediction,) = sim.sim.predictions.values()  # the refused create made none
    assert prediction.model == "mistralai/mistral-7b-instruct-v0.2"
    assert response.id == prediction.id


async def test_missing_model_falls_back_to_the_next(router: patchwire.Router, sim: Any) -> None:
    response = await router.acompletion("missing", USER, fallbacks=["llama-3"])
    (prediction,) = sim.sim.predictions.values()
    assert prediction.model == "meta/meta-llama-3-8b-instruct" and response.id == prediction.id


async def test_5xx_falls_back_and_the_failed_prediction_is_canceled(start_simulator: Any) -> None:
    sim = await start_simulator(latency=0.3, tokens=3)
    plugins = polling_plugins()
    routes = {
        name: [patchwire.ModelRoute(model, api_base=sim.url, api_key=TEST_KEY)]
        for name, model in (("llama-3", LLAMA), ("mistral-7b", MISTRAL))
    }
    async with patchwire.Router(plugins=plugins, routes=routes, fallbacks={"llama-3": ["mistral-7b"]}) as r:
        sim.sim.inject_fault("5xx", route="get", times=1)
        response = await r.acompletion("llama-3", USER, num_retries=0)
    first, second = sim.sim.predictions.values()
    assert first.model == "meta/meta-llama-3-8b-instruct"
    assert first.status(first.end) == "canceled"  # cancelled before the fallback started
    assert first.end <= second.created
    assert second.model == "mistralai/mistral-7b-instruct-v0.2" and response.id == second.id


async def test_a_timeout_falls_back_with_a_fresh_deadline_and_the_slow_prediction_canceled(
    start_simulator: Any,
) -> None:
    sim = await start_simulator(latency=60, tokens=3)  # llama would take a minute to start

    class FastFallback:
        """Makes the simulator quick again once the call has moved on to mistral."""

        name = "fast-fallback"

        async def wrap(self, call: patchwire.ProviderCall, call_next: Any) -> Any:
            if call.request.ref.slug.startswith("mistralai/"):
                sim.sim.config.latency = 0.0
            return await call_next(call)

    class Plugin:
        @patchwire.hookimpl
        def patchwire_call_wrappers(self) -> list[FastFallback]:
            return [FastFallback()]

    plugins = patchwire.Plugins()
    plugins.register(Plugin())
    routes = {
        name: [patchwire.ModelRoute(model, api_base=sim.url, api_key=TEST_KEY)]
        for name, model in (("llama-3", LLAMA), ("mistral-7b", MISTRAL))
    }
    async with patchwire.Router(plugins=plugins, routes=routes, fallbacks={"llama-3": ["mistral-7b"]}) as r:
        response = await r.acompletion("llama-3", USER, timeout=1.5)
    first, second = sim.sim.predictions.values()
    assert first.model == "meta/meta-llama-3-8b-instruct"
    assert first.status(first.end) == "canceled" and first.end <= second.created
    assert second.model == "mistralai/mistral-7b-instruct-v0.2" and response.id == second.id


async def test_unknown_outcome_never_falls_back_unless_asked(start_simulator: Any) -> None:
    # Every read of the prediction list fails, so a lost create can be neither found nor ruled out.
    faults = Faults(rate_5xx=1.0, routes={"list"}, statuses_5xx=(500,), retry_after=0)
    sim = await start_simulator(tokens=3, faults=faults)
    routes = {
        name: [patchwire.ModelRoute(model, api_base=sim.url, api_key=TEST_KEY)]
        for name, model in (("llama-3", LLAMA), ("mistral-7b", MISTRAL))
    }
    kw: Any = {"fallbacks": ["mistral-7b"], "num_retries": 0, "timeout": 1.0}
    async with patchwire.Router(routes=routes) as router:
        sim.sim.inject_fault("5xx", route="create", times=1)  # sent, and unanswered
        with pytest.raises(patchwire.UnknownOutcomeError):
            await router.acompletion("llama-3", USER, **kw)
        assert not sim.sim.predictions  # mistral was never tried
        sim.sim.inject_fault("5xx", route="create", times=1)
        response = await router.acompletion("llama-3", USER, fallback_on_unknown_outcome=True, **kw)
    (prediction,) = sim.sim.predictions.values()
    assert prediction.model == "mistralai/mistral-7b-instruct-v0.2" and response.id == prediction.id


async def test_a_bad_request_does_not_fall_back(router: patchwire.Router, sim: Any) -> None:
    with pytest.raises(patchwire.BadRequestError):
        await router.acompletion("llama-3", USER, fallbacks=["mistral-7b"], no_such_input=1)
    assert not sim.sim.predictions


@pytest.mark.parametrize("fallbacks", [["nobody"], ["openai/gpt-4"], "mistral-7b", [""], [1]])
async def test_fallbacks_naming_a_model_nobody_serves_is_a_bad_request(
    router: patchwire.Router, sim: Any, fallbacks: Any
) -> None:
    with pytest.raises(patchwire.BadRequestError, match="fallbacks") as info:
        await router.acompletion("llama-3", USER, fallbacks=fallbacks)
    assert info.value.param == "fallbacks"
    assert not sim.sim.predictions


# -- cooldowns --------------------------------------------------------------------------------------


class Clock:
    """A clock that moves one second each time it is read (and jumps when told)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


async def test_a_failing_deployment_cools_down_then_recovers(sim: Any) -> None:
    clock = Clock()
    routes = {
        "llama-3": [
            patchwire.ModelRoute(LLAMA, api_base=sim.url, api_key=TEST_KEY),
            patchwire.ModelRoute(MISTRAL, api_base=sim.url, api_key=TEST_KEY),
        ]
    }
    async with patchwire.Router(
        routes=routes, num_retries=0, allowed_fails=1, cooldown_time=30, cooldowns=LocalCooldowns(clock)
    ) as router:
        sim.sim.inject_fault("429", route="create", times=1)
        await router.acompletion("llama-3", USER)  # llama's turn: refused, so mistral answers
        for _ in range(4):  # llama cools down: every call goes to mistral, turn or not
            await router.acompletion("llama-3", USER)
        models = [p.model for p in sim.sim.predictions.values()]
        assert models == ["mistralai/mistral-7b-instruct-v0.2"] * 5
        clock.now += 31  # the cooldown is over: llama serves again, in turn
        await router.acompletion("llama-3", USER)
        await router.acompletion("llama-3", USER)
        models = [p.model for p in sim.sim.predictions.values()]
    assert sorted(models[5:]) == ["meta/meta-llama-3-8b-instruct", "mistralai/mistral-7b-instruct-v0.2"]


async def test_when_every_deployment_cools_down_the_least_recently_failed_is_tried(sim: Any) -> None:
    clock = Clock()
    routes = {
        "llama-3": [
            patchwire.ModelRoute(LLAMA, api_base=sim.url, api_key=TEST_KEY),
            patchwire.ModelRoute(MISTRAL, api_base=sim.url, api_key=TEST_KEY),
        ]
    }
    async with patchwire.Router(
        routes=routes, num_retries=0, allowed_fails=1, cooldown_time=30, cooldowns=LocalCooldowns(clock)
    ) as router:
        with pytest.raises(patchwire.RateLimitError):
            await router.acompletion("llama-3", USER, mock_response=patchwire.RateLimitError("both down"))
        # (the mock fails both deployments in turn: llama first, then mistral a moment later)
        clock.now += 1
        await router.acompletion("llama-3", USER)  # nothing is ready: llama failed least recently
    (prediction,) = sim.sim.predictions.values()
    assert prediction.model == "meta/meta-llama-3-8b-instruct"
