"""Prometheus metrics: the proxy's GET /metrics end to end (client -> proxy -> simulator), behind the
key unless configured public, with labels no client can grow; the same counters for library calls."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from support import TEST_KEY, StartSimulator

import patchwire
from patchwire.providers.replicate.simulator import Faults
from patchwire.proxy import parse_config, serve_app

pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families

from patchwire.metrics import Metrics

LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"
PROXY_KEY = "sk-metrics-test"
AUTH = {"Authorization": f"Bearer {PROXY_KEY}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and sorted labels (parsed, not grepped)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def proxy_config(api_base: str, **general: Any) -> Any:
    return parse_config(
        {
            "model_list": [
                {
                    "model_name": "llama-3",
                    "litellm_params": {"model": LLAMA3, "api_key": TEST_KEY, "api_base": api_base},
                }
            ],
            "general_settings": {"master_key": PROXY_KEY, **general},
        }
    )


@contextlib.asynccontextmanager
async def proxy(api_base: str, **general: Any) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async with serve_app(proxy_config(api_base, **general), port=0) as url, aiohttp.ClientSession() as http:
        yield url, http


async def scrape(http: aiohttp.ClientSession, url: str, headers: Any = None) -> tuple[int, str, str]:
    async with http.get(f"{url}/metrics", headers=headers) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def test_proxy_metrics_count_requests_tokens_and_first_tokens(start_simulator: StartSimulator) -> None:
    running = await start_simulator(tokens=5)
    async with proxy(running.url) as (url, http):
        body = {"model": "llama-3", "messages": [{"role": "user", "content": "hi"}]}
        async with http.post(f"{url}/v1/chat/completions", json=body, headers=AUTH) as resp:
            answer = await resp.json()
            assert resp.status == 200
        async with http.post(
            f"{url}/v1/chat/completions",
            json={**body, "stream": True, "stream_options": {"include_usage": True}},
            headers=AUTH,
        ) as resp:
            assert resp.status == 200
            await resp.read()
        async with http.post(
            f"{url}/v1/chat/completions", json={**body, "temperature": "hot"}, headers=AUTH
        ) as r:
            assert r.status == 400
        status, content_type, text = await scrape(http, url, AUTH)
    assert status == 200 and content_type.startswith("text/plain")
    found = samples(text)
    route = "/v1/chat/completions"
    assert value(found, "patchwire_requests_total", model="llama-3", status="200", route=route) == 2
    assert value(found, "patchwire_requests_total", model="llama-3", status="400", route=route) == 1
    assert value(found, "patchwire_request_duration_seconds_count", model="llama-3", route=route) == 3
    assert value(found, "patchwire_time_to_first_token_seconds_count", model=LLAMA3) == 1
    usage = answer["usage"]
    tokens_out = value(found, "patchwire_tokens_total", model=LLAMA3, direction="out")
    assert tokens_out == usage["completion_tokens"] + 5  # the stream's five tokens, one per event
    assert value(found, "patchwire_tokens_total", model=LLAMA3, direction="in") >= usage["prompt_tokens"]
    assert value(found, "patchwire_predictions_in_flight", model=LLAMA3) == 0


async def test_metrics_need_the_key_unless_public(start_simulator: StartSimulator) -> None:
    running = await start_simulator()
    async with proxy(running.url) as (url, http):
        assert (await scrape(http, url))[0] == 401
        assert (await scrape(http, url, {"Authorization": "Bearer wrong"}))[0] == 401
        assert (await scrape(http, url, AUTH))[0] == 200
    async with proxy(running.url, metrics_public=True) as (url, http):
        status, _, text = await scrape(http, url)
        assert status == 200 and "patchwire_requests_total" in text
        # Public metrics open nothing else.
        async with http.get(f"{url}/v1/models") as resp:
            assert resp.status == 401


async def test_clients_cannot_grow_the_label_sets(start_simulator: StartSimulator) -> None:
    running = await start_simulator()
    async with proxy(running.url) as (url, http):
        for i in range(5):
            body = {"model": f"evil-model-{i}", "messages": [{"role": "user", "content": "x"}]}
            async with http.post(f"{url}/v1/chat/completions", json=body, headers=AUTH) as resp:
                assert resp.status == 404
            async with http.get(f"{url}/evil-path-{i}", headers=AUTH) as resp:
                assert resp.status == 404
        _, _, text = await scrape(http, url, AUTH)
    assert "evil" not in text
    found = samples(text)
    assert (
        value(found, "patchwire_requests_total", model="-", status="404", route="/v1/chat/completions") == 5
    )
    assert value(found, "patchwire_requests_total", model="-", status="404", route="other") == 5


async def test_library_calls_feed_the_same_counters(start_simulator: StartSimulator) -> None:
    running = await start_simulator(tokens=4)
    failing = await start_simulator(faults=Faults(rate_fail=1.0))
    metrics = Metrics()
    plugins = patchwire.Plugins()
    plugins.register(metrics.plugin(), name="metrics")
    try:
        async with patchwire.Router(plugins=plugins) as router:
            messages = [{"role": "user", "content": "hi"}]
            response = await router.acompletion(LLAMA3, messages, api_key=TEST_KEY, api_base=running.url)
            stream = await router.acompletion(
                LLAMA3, messages, api_key=TEST_KEY, api_base=running.url, stream=True
            )
            async with stream:
                async for _ in stream:
                    break  # the caller stops early: the call is over, counted once
            with pytest.raises(patchwire.ProviderError):
                await router.acompletion(LLAMA3, messages, api_key=TEST_KEY, api_base=failing.url)
    finally:
        metrics.close()
    found = samples(metrics.render().decode())
    assert value(found, "patchwire_requests_total", model=LLAMA3, status="200", route="library") == 1
    assert value(found, "patchwire_requests_total", model=LLAMA3, status="499", route="library") == 1
    assert value(found, "patchwire_requests_total", model=LLAMA3, status="502", route="library") == 1
    assert (
        value(found, "patchwire_tokens_total", model=LLAMA3, direction="out")
        >= response.usage.completion_tokens
    )
    assert value(found, "patchwire_predictions_in_flight", model=LLAMA3) == 0
