"""The proxy attacked from a web page, through its log and through odd headers: cross-site requests,
DNS rebinding, forged log lines, a malformed Authorization header, huge echoed values, per-key limits.

Real HTTP on 127.0.0.1: raw requests -> proxy -> Replicate provider -> simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from support import StartSimulator, llama3_proxy_config, raw_request, wait_for

from patchwire.proxy import parse_config, serve_app

KEY = "sk-exposure-master-0123456789"
BODY = orjson.dumps({"model": "llama-3", "messages": [{"role": "user", "content": "hi"}]})
Start = Callable[..., Any]


def config_for(sim_url: str, **general: Any) -> dict[str, Any]:
    return llama3_proxy_config(sim_url, params={"max_tokens": 3}, general_settings=general)


@pytest.fixture
async def start_proxy(start_simulator: StartSimulator) -> AsyncIterator[Start]:
    """``url = await start_proxy(master_key=..., ...)``: a proxy (general_settings from the keywords)
    in front of a fresh simulator."""
    running = await start_simulator(tokens=3)
    async with contextlib.AsyncExitStack() as stack:

        async def start(**general: Any) -> str:
            config = parse_config(config_for(running.url, **general), source="exposure.yaml")
            url: str = await stack.enter_async_context(serve_app(config, host="127.0.0.1", port=0))
            return url

        yield start


def post(
    body: bytes = BODY,
    *,
    host: str = "127.0.0.1",
    content_type: str | None = "application/json",
    key: str | None = None,
    path: str = "/v1/chat/completions",
    extra: str = "",
) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    if key is not None:
        head += f"Authorization: Bearer {key}\r\n"
    return (head + extra + "\r\n").encode("latin-1") + body


# -- 1: a keyless proxy driven from a web page --------------------------------------------------


async def test_the_issue_curl_from_a_web_page_is_refused(start_proxy: Start) -> None:
    url = await start_proxy()
    # The issue's request: text/plain, a foreign Origin, a rebound Host name.
    answer = await raw_request(
        url,
        post(
            content_type="text/plain",
            host="attacker.example:4000",
            extra="Origin: https://evil.example\r\n",
        ),
    )
    assert answer.status == 403
    assert answer.json()["error"]["type"] == "permission_error"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_post_must_be_declared_json(start_proxy: Start, content_type: str | None) -> None:
    url = await start_proxy()
    answer = await raw_request(url, post(content_type=content_type))
    assert answer.status == 415
    assert "Content-Type: application/json" in answer.json()["error"]["message"]
    ok = await raw_request(url, post(content_type="application/json; charset=utf-8"))
    assert ok.status == 200, ok.body


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:4000", "10.0.0.5:4000", "127.0.0.1.evil.example"]
)
async def test_without_a_key_only_loopback_host_names_are_answered(start_proxy: Start, host: str) -> None:
    url = await start_proxy()
    answer = await raw_request(url, post(host=host))
    assert answer.status == 403
    assert "master_key" in answer.json()["error"]["message"]
    for loopback in ("127.0.0.1:4000", "localhost", "LOCALHOST:1", "[::1]:4000", "127.0.0.2"):
        assert (await raw_request(url, post(host=loopback))).status == 200, loopback


async def test_allowed_hosts_and_a_key_lift_the_host_check(start_proxy: Start) -> None:
    url = await start_proxy(allowed_hosts=["proxy.internal"])
    assert (await raw_request(url, post(host="proxy.internal:4000"))).status == 200
    assert (await raw_request(url, post(host="other.internal"))).status == 403
    keyed = await start_proxy(master_key=KEY)
    assert (await raw_request(keyed, post(host="proxy.example", key=KEY))).status == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
async def test_cross_origin_browser_requests_are_refused(start_proxy: Start, origin: str) -> None:
    url = await start_proxy()
    answer = await raw_request(url, post(extra=f"Origin: {origin}\r\n"))
    assert answer.status == 403
    assert "cors_origins" in answer.json()["error"]["message"]
    assert "access-control-allow-origin" not in answer.headers


async def test_same_origin_requests_are_served(start_proxy: Start) -> None:
    url = await start_proxy()
    host = url.removeprefix("http://")
    answer = await raw_request(url, post(host=host, extra=f"Origin: {url}\r\n"))
    assert answer.status == 200, answer.body


async def test_configured_origins_get_cors_with_preflight(start_proxy: Start) -> None:
    app = "https://app.example"
    url = await start_proxy(master_key=KEY, cors_origins=[app])
    preflight = await raw_request(
        url,
        (
            "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Origin: {app}\r\nAccess-Control-Request-Method: POST\r\n"
            "Access-Control-Request-Headers: authorization, content-type\r\n\r\n"
        ).encode(),
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == app
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    answer = await raw_request(url, post(key=KEY, extra=f"Origin: {app}\r\n"))
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == app
    streamed = orjson.dumps({**orjson.loads(BODY), "stream": True})
    answer = await raw_request(url, post(streamed, key=KEY, extra=f"Origin: {app}\r\n"))
    assert answer.status == 200 and answer.headers["access-control-allow-origin"] == app
    other = await raw_request(url, post(key=KEY, extra="Origin: https://other.example\r\n"))
    assert other.status == 403


def test_a_wildcard_origin_needs_a_key() -> None:
    from patchwire.errors import ConfigError

    with pytest.raises(ConfigError, match="cors_origins"):
        parse_config(config_for("http://127.0.0.1:1", cors_origins=["*"]))
    with pytest.raises(ConfigError, match="cors_origins"):
        parse_config(config_for("http://127.0.0.1:1", master_key=KEY, cors_origins=["evil.example"]))
    parse_config(config_for("http://127.0.0.1:1", master_key=KEY, cors_origins=["*"]))


# -- 4: log forging -----------------------------------------------------------------------------


async def test_a_path_cannot_forge_a_log_line(start_proxy: Start, caplog: pytest.LogCaptureFixture) -> None:
    url = await start_proxy()
    forged = "/x%0a2026-11-29%20INFO%20patchwire.proxy:%20POST%20/v1/chat/completions%20200%0d%1b%5b2J"
    with caplog.at_level(logging.INFO, logger="patchwire.proxy"):
        raw = f"GET {forged} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        answer = await raw_request(url, raw)
    assert answer.status == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "patchwire.proxy"]
    assert lines, caplog.text
    for line in lines:
        assert "\n" not in line and "\r" not in line and "\x1b" not in line, line
    assert any("\\n2026-11-29" in line for line in lines)


# -- 5: a malformed Authorization header --------------------------------------------------------


@pytest.mark.parametrize("authorization", [f"Bearer {KEY}\x01", "Bearer " + KEY * 400])
async def test_a_malformed_authorization_is_an_openai_400_without_the_key_anywhere(
    start_proxy: Start, caplog: pytest.LogCaptureFixture, authorization: str
) -> None:
    url = await start_proxy(master_key=KEY)
    with caplog.at_level(logging.DEBUG):
        raw = (
            f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
            "Connection: close\r\n\r\n"
        )
        answer = await raw_request(url, raw.encode("latin-1"))
    assert answer.status == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert KEY[:12].encode() not in answer.body
    assert KEY[:12] not in caplog.text
    assert "Traceback" not in caplog.text
    assert not any(r.exc_info for r in caplog.records)


# -- 11: echoed input is bounded ----------------------------------------------------------------


async def test_a_huge_unknown_parameter_name_is_not_echoed_in_full(start_proxy: Start) -> None:
    url = await start_proxy(max_request_size_mb=8)
    name = "x" * 3_000_000
    body = orjson.dumps({"model": "llama-3", "messages": [{"role": "user", "content": "hi"}], name: 1})
    answer = await raw_request(url, post(body, path="/v1/chat/completions"))
    assert 400 <= answer.status < 500
    assert len(answer.body) < 2000, len(answer.body)


async def test_huge_values_in_model_and_fields_are_not_echoed(start_proxy: Start) -> None:
    url = await start_proxy(max_request_size_mb=8)
    for body in (
        {"model": "m" * 1_000_000, "messages": []},
        {"model": "llama-3", "messages": [{"role": "r" * 1_000_000, "content": "hi"}]},
        {"model": "llama-3", "messages": [{"role": "user", "content": "hi"}], "temperature": "t" * 10**6},
    ):
        answer = await raw_request(url, post(orjson.dumps(body)))
        assert 400 <= answer.status < 500
        assert len(answer.body) < 2000, answer.body[:300]


# -- 6: per-key limits --------------------------------------------------------------------------


async def test_per_key_rate_limit(start_proxy: Start) -> None:
    url = await start_proxy(master_key=KEY, rpm_limit=2)
    statuses = [(await raw_request(url, post(key=KEY))).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = await raw_request(url, post(key=KEY))
    assert refused.json()["error"]["code"] == "rpm_limit"
    assert int(refused.headers["retry-after"]) >= 1


async def test_per_key_concurrency_limit(start_simulator: StartSimulator) -> None:
    running = await start_simulator(tokens=3, latency=0.5)
    config = parse_config(config_for(running.url, master_key=KEY, max_parallel_requests=1), source="x")
    async with serve_app(config, host="127.0.0.1", port=0) as url:
        first = asyncio.create_task(raw_request(url, post(key=KEY)))
        await wait_for(lambda: bool(running.sim.predictions), timeout=5.0)
        second = await raw_request(url, post(key=KEY))
        assert second.status == 429
        assert second.json()["error"]["code"] == "max_parallel_requests"
        assert (await first).status == 200
        assert (await raw_request(url, post(key=KEY))).status == 200


# -- 3c / 8: what the proxy's errors and log say about the upstream ----------------------------------


async def test_errors_never_name_the_internal_api_base(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    config = parse_config(config_for(dead, master_key=KEY), source="dead.yaml")
    async with serve_app(config, host="127.0.0.1", port=0) as url:
        answer = await raw_request(url, post(key=KEY), timeout=30)
    assert answer.status == 503
    message = answer.json()["error"]["message"]
    assert dead.removeprefix("http://") not in message, message
    assert "the upstream API" in message


async def test_a_timed_out_call_logs_its_prediction_id(
    start_simulator: StartSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_simulator(tokens=3, latency=30.0)
    config = parse_config(config_for(running.url), source="slow-upstream.yaml")
    async with serve_app(config, host="127.0.0.1", port=0) as url:
        body = orjson.dumps({**orjson.loads(BODY), "timeout": 1.5})
        with caplog.at_level(logging.INFO, logger="patchwire.proxy"):
            answer = await raw_request(url, post(body), timeout=30)
    assert answer.status == 408
    (prediction_id,) = running.sim.predictions
    error = answer.json()["error"]["message"]
    assert prediction_id in error and "cancel requested" in error
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POST ")]
    assert line.endswith(f"prediction={prediction_id}"), line
