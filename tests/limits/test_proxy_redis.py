"""Proxy replicas sharing limits through Redis (``router_settings``), end to end against the simulator:
one budget across replicas, start-up refusal on an unreachable Redis (unless ``redis_optional``), and
config errors that name the field without echoing a password."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Any

import aiohttp
import pytest
from support import TEST_KEY, RedisServer, StartSimulator

from patchwire.errors import ConfigError
from patchwire.proxy import parse_config, serve_app

pytest.importorskip("redis")
pytest.importorskip("limits")

LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"


def config(api_base: str, **router: Any) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": "llama-3",
                "litellm_params": {"model": LLAMA3, "api_key": TEST_KEY, "api_base": api_base},
            }
        ],
        "router_settings": router,
    }


async def ask(http: aiohttp.ClientSession, url: str, timeout: float = 30) -> int:
    body = {"model": "llama-3", "messages": [{"role": "user", "content": "hi"}], "timeout": timeout}
    async with http.post(f"{url}/v1/chat/completions", json=body) as resp:
        await resp.read()
        return resp.status


async def test_replicas_sharing_redis_share_one_create_budget(
    start_simulator: StartSimulator, redis_server: RedisServer
) -> None:
    running = await start_simulator()
    # Two creates every two minutes, for the whole account: once two replicas made them, a third create
    # (on either replica) waits beyond its 2 s deadline.
    settings = {"rpm": 1, "rpm_burst": 2, "redis_url": redis_server.url}
    async with contextlib.AsyncExitStack() as stack, aiohttp.ClientSession() as http:
        a = await stack.enter_async_context(serve_app(parse_config(config(running.url, **settings)), port=0))
        b = await stack.enter_async_context(serve_app(parse_config(config(running.url, **settings)), port=0))
        assert await ask(http, a) == 200
        assert await ask(http, b) == 200
        assert await ask(http, b, timeout=2) == 408
        assert await ask(http, a, timeout=2) == 408
        assert running.sim.stats.created == 2
        # Without Redis each replica would have had its own budget.
        alone = parse_config(config(running.url, rpm=1, rpm_burst=2))
        c = await stack.enter_async_context(serve_app(alone, port=0))
        assert await ask(http, c) == 200
        assert running.sim.stats.created == 3


async def test_unreachable_redis_stops_the_start_unless_optional(start_simulator: StartSimulator) -> None:
    running = await start_simulator()
    down = "redis://:pw-in-url@127.0.0.1:1/0"
    with pytest.raises(ConfigError) as info:
        async with serve_app(parse_config(config(running.url, redis_url=down), source="r.yaml"), port=0):
            pass
    assert "r.yaml" in str(info.value) and "redis_url" in str(info.value)
    assert "pw-in-url" not in str(info.value)
    optional = config(running.url, redis_url=down, redis_optional=True, rpm=600)
    async with serve_app(parse_config(optional), port=0) as url, aiohttp.ClientSession() as http:
        assert await ask(http, url) == 200


def test_serve_refuses_to_start_on_unreachable_redis(tmp_path: Any) -> None:
    path = tmp_path / "proxy.yaml"
    path.write_text(
        "model_list:\n  - model_name: m\n    litellm_params: {model: " + LLAMA3 + "}\n"
        "router_settings: {redis_host: 127.0.0.1, redis_port: 1, redis_password: pw-secret}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "patchwire", "serve", "--config", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "REPLICATE_API_KEY": TEST_KEY},
    )
    assert done.returncode == 2
    assert "redis_url" in done.stderr and "127.0.0.1:1" in done.stderr
    assert "pw-secret" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("router", "field"),
    [
        ({"rpm": -1}, "rpm"),
        ({"rpm": "600"}, "rpm"),
        ({"rpm": 60, "rpm_burst": 0}, "rpm_burst"),
        ({"redis_port": 6379}, "redis_port"),
        ({"redis_host": "127.0.0.1", "redis_port": 70000}, "redis_port"),
        ({"redis_host": "127.0.0.1", "redis_port": "six"}, "redis_port"),
        ({"redis_url": "redis://127.0.0.1", "redis_host": "127.0.0.1"}, "redis_host"),
        ({"redis_url": "127.0.0.1:6379"}, "redis_url"),
        ({"redis_url": "redis://127.0.0.1", "redis_optional": "yes"}, "redis_optional"),
        ({"redis_host": "127.0.0.1", "redis_password": 12345}, "redis_password"),
        ({"redis_hots": "127.0.0.1"}, "redis_hots"),
    ],
)
def test_malformed_limits_and_redis_settings_name_the_field(router: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config("http://127.0.0.1:1", **router), source="bad.yaml")
    assert f"field {field!r}" in str(info.value) and "bad.yaml" in str(info.value)
    assert "12345" not in str(info.value)


def test_redis_password_stays_out_of_the_config_repr() -> None:
    parsed = parse_config(config("http://127.0.0.1:1", redis_host="127.0.0.1", redis_password="hunter2"))
    assert parsed.redis_url == "redis://:hunter2@127.0.0.1:6379"
    assert "hunter2" not in repr(parsed)
