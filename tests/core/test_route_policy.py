"""The router owns call policy: each route's own timeout and drop_params, one concurrency limit, and
provider options by name — from the SDK and, handed over unchanged, from the proxy config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from fakes import Formatter

import patchwire
from patchwire import BadRequestError, ConfigError, InputSchema, InputSpec, ModelRoute
from patchwire.proxy import parse_config, serve_app
from patchwire.testing import RecordingProvider, plugin, registered

HI = [{"role": "user", "content": "hi"}]
SCHEMA = InputSchema({"prompt": InputSpec("prompt", "string")}, ("prompt",))


@pytest.fixture
def provider() -> RecordingProvider:
    fake = RecordingProvider()
    fake.schema = SCHEMA  # the model takes only `prompt`: anything else is dropped or refused
    return fake


@pytest.fixture
def plugins(provider: RecordingProvider) -> Any:
    with registered(plugin(providers=[provider], formatters=[Formatter("plain", ["*"])])) as plugins:
        yield plugins


def timeouts(provider: RecordingProvider) -> list[float]:
    return [call.request.timeout for call in provider.calls]


async def test_each_route_uses_its_own_timeout_and_a_call_may_only_shorten_it(
    plugins: patchwire.Plugins, provider: RecordingProvider
) -> None:
    routes = {"m": [ModelRoute("fake/a/short", timeout=30), ModelRoute("fake/a/long", timeout=90)]}
    async with patchwire.Router(plugins=plugins, routes=routes, timeout=600) as router:
        await router.acompletion("m", HI)
        await router.acompletion("m", HI)
        await router.acompletion("m", HI, timeout=1000)  # the short route again: capped at 30
        await router.acompletion("m", HI, timeout=5)  # the long one: shortened to 5
        # Without a route, a call's timeout is its own, and the router's default fills in.
        await router.acompletion("fake/a/direct", HI, timeout=1000)
        await router.acompletion("fake/a/direct", HI)
    assert timeouts(provider) == [30, 90, 30, 5, 1000, 600]


@pytest.mark.parametrize("bad", ["10", -1, 0, float("nan"), True])
async def test_a_bad_timeout_is_refused_even_beside_a_route(plugins: patchwire.Plugins, bad: Any) -> None:
    routes = {"m": [ModelRoute("fake/a/b", timeout=30)]}
    async with patchwire.Router(plugins=plugins, routes=routes) as router:
        with pytest.raises(BadRequestError, match="timeout must be a positive number") as info:
            await router.acompletion("m", HI, timeout=bad)
    assert info.value.param == "timeout"


async def test_each_route_carries_its_own_drop_params(
    plugins: patchwire.Plugins, provider: RecordingProvider
) -> None:
    routes = {"lenient": [ModelRoute("fake/a/b", drop_params=True)], "strict": [ModelRoute("fake/a/b")]}
    async with patchwire.Router(plugins=plugins, routes=routes) as router:
        await router.acompletion("lenient", HI, top_k=5)
        with pytest.raises(BadRequestError, match="has no input 'top_k'"):
            await router.acompletion("strict", HI, top_k=5)
        await router.acompletion("strict", HI, top_k=5, drop_params=True)  # the call may ask itself
        with pytest.raises(BadRequestError, match="drop_params must be true or false"):
            await router.acompletion("strict", HI, drop_params="yes")
    assert provider.inputs == [{"prompt": "hi"}, {"prompt": "hi"}]


# -- provider options -----------------------------------------------------------------------------


class Configurable(RecordingProvider):
    def __init__(self, name: str = "fake", *, speed: int = 1) -> None:
        super().__init__(name)
        self.speed = speed

    def with_options(self, *, speed: int = 1) -> Configurable:
        if speed <= 0:
            raise ConfigError("speed must be positive", param="speed")
        return Configurable(self.name, speed=speed)


async def test_provider_options_configure_a_provider_by_name() -> None:
    installed = Configurable()
    with registered(plugin(providers=[installed], formatters=[Formatter("plain", ["*"])])) as plugins:
        async with patchwire.Router(plugins=plugins, provider_options={"fake": {"speed": 3}}) as router:
            await router.acompletion("fake/a/b", HI)
            configured = router.providers()["fake"]
    assert isinstance(configured, Configurable) and configured.speed == 3
    assert installed.calls == [] and len(configured.calls) == 1  # the configured copy served the call


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nobody": {}}, "names provider 'nobody', which is not loaded"),
        ({"fake": {"colour": "red"}}, "provider_options.fake: "),
        ({"fake": {"speed": 0}}, "speed must be positive"),
        ({"fake": ["speed"]}, "must be a mapping of option names to values"),
    ],
)
def test_wrong_provider_options_fail_when_the_router_is_built(options: Any, message: str) -> None:
    with registered(plugin(providers=[Configurable()])) as plugins:
        with pytest.raises(ConfigError, match=message):
            patchwire.Router(plugins=plugins, provider_options=options)


def test_a_provider_without_with_options_takes_none() -> None:
    with registered(plugin(providers=[RecordingProvider()])) as plugins:
        with pytest.raises(ConfigError, match="provider 'fake' takes no options"):
            patchwire.Router(plugins=plugins, provider_options={"fake": {"x": 1}})


def test_the_replicate_provider_checks_its_options() -> None:
    router = patchwire.Router(provider_options={"replicate": {"prefer_wait": 0}})
    assert router.providers()["replicate"].prefer_wait == 0  # type: ignore[attr-defined]
    for options, message in [
        ({"prefer_wait": 61}, "prefer_wait must be a whole number of seconds from 0"),
        ({"prefer_wait": "5"}, "prefer_wait must be a whole number of seconds from 0"),
        ({"wait": 1}, r"unknown option\(s\) wait; the replicate provider takes prefer_wait"),
    ]:
        with pytest.raises(ConfigError, match=message):
            patchwire.Router(provider_options={"replicate": options})


# -- the proxy hands its config over ----------------------------------------------------------------


@pytest.fixture
async def proxy(plugins: patchwire.Plugins) -> AsyncIterator[str]:
    config = parse_config(
        {
            "model_list": [
                {"model_name": "m", "litellm_params": {"model": "fake/a/short", "timeout": 30}},
                {"model_name": "m", "litellm_params": {"model": "fake/a/long", "timeout": 90}},
                {"model_name": "lenient", "litellm_params": {"model": "fake/a/b", "drop_params": True}},
                {"model_name": "strict", "litellm_params": {"model": "fake/a/b"}},
            ],
            "router_settings": {"timeout": 600, "provider_options": {}},
        },
        source="policy.yaml",
    )
    async with serve_app(config, host="127.0.0.1", port=0, plugins=plugins) as url:
        yield url


async def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/v1/chat/completions", json={"messages": HI, **body}) as resp,
    ):
        return resp.status, await resp.json()


async def test_the_proxy_hands_each_routes_timeout_and_drop_params_to_the_router(
    proxy: str, provider: RecordingProvider
) -> None:
    for body in ({}, {}, {"timeout": 1000}, {"timeout": 5}, {"timeout": None}):
        status, _ = await post(proxy, {"model": "m", **body})
        assert status == 200
    # Before, every call got the alias-wide maximum (90): a route's own timeout was never used.
    assert timeouts(provider) == [30, 90, 30, 5, 30]
    status, _ = await post(proxy, {"model": "lenient", "top_k": 5})
    assert status == 200 and provider.inputs[-1] == {"prompt": "hi"}
    status, body = await post(proxy, {"model": "strict", "top_k": 5})
    assert status == 400 and "has no input 'top_k'" in body["error"]["message"]
    for bad in ({"timeout": "soon"}, {"drop_params": "yes"}):
        status, body = await post(proxy, {"model": "strict", **bad})
        assert status == 400 and body["error"]["param"] in bad


def test_proxy_config_provider_options_are_checked_at_start_up() -> None:
    from patchwire.proxy import create_app
    from patchwire.proxy.state import STATE

    config = parse_config(
        {
            "model_list": [{"model_name": "m", "litellm_params": {"model": "replicate/a/b"}}],
            "router_settings": {"provider_options": {"replicate": {"prefer_wait": 99}}},
        },
        source="opts.yaml",
    )
    with pytest.raises(ConfigError) as info:
        create_app(config)
    field = "field 'provider_options.replicate.prefer_wait'"
    assert str(info.value).startswith(f"opts.yaml: router_settings: {field}")
    good = parse_config(
        {
            "model_list": [{"model_name": "m", "litellm_params": {"model": "replicate/a/b"}}],
            "router_settings": {"provider_options": {"replicate": {"prefer_wait": 0}}},
        }
    )
    router = create_app(good)[STATE].router
    assert router.providers()["replicate"].prefer_wait == 0  # type: ignore[attr-defined]


def test_max_in_flight_is_one_limit_with_max_concurrency() -> None:
    with pytest.raises(ConfigError, match="rename max_in_flight to max_concurrency"):
        parse_config(
            {
                "model_list": [{"model_name": "m", "litellm_params": {"model": "replicate/a/b"}}],
                "router_settings": {"max_in_flight": 5},
            }
        )
