"""The proxy with LiteLLM's routing settings: fallbacks, num_retries, allowed_fails, cooldown_time, and
LiteLLM's call options in request bodies — the official openai client against the simulator."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from patchwire import ConfigError
from patchwire.providers.replicate.simulator import Faults
from patchwire.proxy import parse_config, serve_app

PROXY_KEY = "sk-routing-1234"
REPLICATE_KEY = "r8_routing-0123456789"
USER: Any = [{"role": "user", "content": "Hello"}]


def config(api_base: str, **router_settings: Any) -> dict[str, Any]:
    def entry(alias: str, model: str, **extra: Any) -> dict[str, Any]:
        params = {"model": model, "api_key": REPLICATE_KEY, "api_base": api_base, **extra}
        return {"model_name": alias, "litellm_params": params}

    return {
        "model_list": [
            entry("llama-3", "replicate/acme/gone-missing", num_retries=0),
            entry("mistral-7b", "replicate/mistralai/mistral-7b-instruct-v0.2"),
        ],
        "router_settings": {
            "num_retries": 2,
            "timeout": 30,
            "fallbacks": [{"llama-3": ["mistral-7b"]}],
            "allowed_fails": 2,
            "cooldown_time": 10,
            **router_settings,
        },
        "general_settings": {"master_key": PROXY_KEY},
    }


@pytest.fixture
async def proxy(start_simulator: Any) -> AsyncIterator[tuple[str, Any]]:
    running = await start_simulator(tokens=3, faults=Faults(retry_after=0))
    async with serve_app(parse_config(config(running.url)), host="127.0.0.1", port=0) as url:
        yield url, running.sim


def test_litellm_router_settings_are_read_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        parsed = parse_config(config("http://127.0.0.1:1"), source="c.yaml")
    assert "ignored" not in caplog.text
    assert parsed.fallbacks == {"llama-3": ("mistral-7b",)}
    assert parsed.num_retries == 2 and parsed.allowed_fails == 2 and parsed.cooldown_time == 10
    assert parsed.routes["llama-3"][0].num_retries == 0


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"fallbacks": [{"llama-3": ["gpt-4"]}]}, "fallbacks[0]"),
        ({"fallbacks": [{"nobody": ["mistral-7b"]}]}, "fallbacks[0]"),
        ({"fallbacks": {"llama-3": ["mistral-7b"]}}, "fallbacks"),
        ({"num_retries": -1}, "num_retries"),
        ({"num_retries": "3"}, "num_retries"),
        ({"allowed_fails": 0}, "allowed_fails"),
        ({"cooldown_time": -5}, "cooldown_time"),
    ],
)
def test_bad_routing_settings_stop_the_start_naming_the_field(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config("http://127.0.0.1:1", **settings), source="c.yaml")
    assert f"field {field!r}" in str(info.value)


async def test_a_missing_model_falls_back_through_the_proxy(proxy: tuple[str, Any]) -> None:
    url, sim = proxy
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=PROXY_KEY, max_retries=0) as client:
        response = await client.chat.completions.create(model="llama-3", messages=USER)
    (prediction,) = sim.predictions.values()
    assert prediction.model == "mistralai/mistral-7b-instruct-v0.2"
    assert response.id == prediction.id
    assert response.model == "llama-3"  # the name the client asked for


async def test_litellm_options_in_a_request_body(proxy: tuple[str, Any]) -> None:
    url, sim = proxy
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=PROXY_KEY, max_retries=0) as client:
        response = await client.chat.completions.create(
            model="mistral-7b",
            messages=USER,
            user="user-7",
            metadata={"trace": "abc"},
            extra_body={"num_retries": 1, "request_timeout": 20},
        )
        mocked = await client.chat.completions.create(
            model="mistral-7b", messages=USER, extra_body={"mock_response": "Hi from a test"}
        )
    (prediction,) = sim.predictions.values()  # the mocked call reached nobody
    assert set(prediction.input) == {"prompt", "prompt_template"}
    assert response.id == prediction.id
    assert mocked.choices[0].message.content == "Hi from a test"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"fallbacks": ["replicate/meta/meta-llama-3-70b-instruct"]}, "fallbacks"),
        ({"fallbacks": ["nobody"]}, "fallbacks"),
        ({"num_retries": -1}, "num_retries"),
        ({"num_retries": "three"}, "num_retries"),
        ({"mock_response": {"a": 1}}, "mock_response"),
        ({"metadata": "x"}, "metadata"),
    ],
)
async def test_bad_call_options_in_a_request_are_400s(
    proxy: tuple[str, Any], extra: dict[str, Any], param: str
) -> None:
    url, sim = proxy
    body = {"model": "mistral-7b", "messages": USER, **extra}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"}
        ) as resp,
    ):
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["param"] == param
    assert not sim.predictions
