"""Slow and silent clients over real sockets: every way of holding a connection open is bounded.

The proxy runs with short limits (fractions of a second) so each test is bounded in time; the defaults
(``ClientLimits``) are documented in the README's security section.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from support import StartSimulator, llama3_proxy_config

from patchwire.proxy import parse_config, serve_app
from patchwire.proxy.limits import ClientLimits

SHORT = 0.3
#: Bound on any test's wait for the proxy to act: far above SHORT, far below the old behaviour (never).
BOUND = 5.0
BODY = orjson.dumps({"model": "llama-3", "messages": [{"role": "user", "content": "hi"}]})
Start = Callable[..., Any]


@pytest.fixture
async def start_proxy(start_simulator: StartSimulator) -> AsyncIterator[Start]:
    running = await start_simulator(tokens=2)
    async with contextlib.AsyncExitStack() as stack:

        async def start(**general: Any) -> tuple[str, int]:
            config = llama3_proxy_config(running.url, general_settings=general)
            url = await stack.enter_async_context(
                serve_app(parse_config(config, source="slow.yaml"), host="127.0.0.1", port=0)
            )
            return url, int(url.rsplit(":", 1)[1])

        yield start


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    data = b""
    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(BOUND):
            while chunk := await reader.read(65536):
                data += chunk
    return data


def status_of(data: bytes) -> int | None:
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else None


async def trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    """Send ``data`` one byte at a time, ``every`` seconds apart, until it is sent or the server goes."""
    with contextlib.suppress(ConnectionError):
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(every)


async def test_a_connection_that_sends_nothing_is_closed(start_proxy: Start) -> None:
    _, port = await start_proxy(client_header_timeout=SHORT, keepalive_timeout=60)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    data = await read_until_closed(reader)
    writer.close()
    assert time.monotonic() - started < BOUND - 1
    assert status_of(data) == 408
    assert b'"timeout_error"' in data


async def test_headers_trickled_a_byte_at_a_time_are_cut_off(start_proxy: Start) -> None:
    _, port = await start_proxy(client_header_timeout=SHORT, keepalive_timeout=60)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 500
    started = time.monotonic()
    sender = asyncio.create_task(trickle(writer, head, every=0.02))
    data = await read_until_closed(reader)
    sender.cancel()
    writer.close()
    assert time.monotonic() - started < BOUND - 1
    assert status_of(data) == 408


async def test_a_trickled_body_is_cut_off(start_proxy: Start) -> None:
    _, port = await start_proxy(client_body_timeout=SHORT)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    )
    writer.write(head.encode())
    started = time.monotonic()
    sender = asyncio.create_task(trickle(writer, BODY, every=0.05))
    data = await read_until_closed(reader)
    sender.cancel()
    writer.close()
    assert time.monotonic() - started < BOUND - 1
    assert status_of(data) == 408
    assert b"client_body_timeout" in data


async def test_an_idle_keep_alive_connection_is_closed(start_proxy: Start) -> None:
    _, port = await start_proxy(keepalive_timeout=SHORT)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    started = time.monotonic()
    data = await read_until_closed(reader)  # the answer, then the close once idle
    writer.close()
    assert time.monotonic() - started < BOUND - 1
    assert status_of(data) == 200


async def test_connections_from_one_address_are_capped(start_proxy: Start) -> None:
    _, port = await start_proxy(max_client_connections_per_ip=3, client_header_timeout=30)
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = await read_until_closed(reader)
    writer.close()
    assert status_of(data) == 503
    assert b"max_client_connections_per_ip" in data
    for _, w in held:
        w.close()
        await w.wait_closed()
    # Closed connections are counted out: a new one is served.
    for _ in range(100):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = await read_until_closed(reader)
        writer.close()
        if status_of(data) == 200:
            break
    assert status_of(data) == 200


async def test_connections_in_total_are_capped(start_proxy: Start) -> None:
    _, port = await start_proxy(max_client_connections=2, client_header_timeout=30)
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = await read_until_closed(reader)
    writer.close()
    assert status_of(data) == 503
    assert b"max_client_connections" in data
    for _, w in held:
        w.close()


def test_the_defaults_bound_every_wait() -> None:
    limits = parse_config(
        {"model_list": [{"model_name": "m", "litellm_params": {"model": "replicate/a/b"}}]}
    ).client_limits
    assert limits == ClientLimits()
    assert limits.header_timeout <= 30 and limits.body_timeout <= 60 and limits.keepalive_timeout <= 75
    assert limits.max_connections <= 4096 and limits.max_connections_per_ip < limits.max_connections
