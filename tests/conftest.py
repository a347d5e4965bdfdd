"""Shared fixtures: a real Replicate simulator on 127.0.0.1, and a fresh router per test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from support import TEST_KEY, RedisServer, RunningSimulator, StartSimulator

import patchwire
from patchwire.testing import fake_replicate


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    """``await start_simulator(latency=0.01, tokens=8, faults=Faults(...))``: a simulator listening on
    127.0.0.1 (an OS-chosen port), stopped when the test ends."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**config: Any) -> RunningSimulator:
            return await stack.enter_async_context(fake_replicate(**config))

        yield start


@pytest.fixture
async def simulator(start_simulator: StartSimulator) -> RunningSimulator:
    """A fast simulator with default settings."""
    return await start_simulator()


@pytest.fixture
async def router() -> AsyncIterator[patchwire.Router]:
    """A fresh router over the installed plugins, closed after the test."""
    async with patchwire.Router() as r:
        yield r


@pytest.fixture
def replicate_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Sets REPLICATE_API_KEY for the test (and clears REPLICATE_API_TOKEN)."""
    monkeypatch.setenv("REPLICATE_API_KEY", TEST_KEY)
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    return TEST_KEY


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's real key must never leak into a test (or a test to the real API).
    monkeypatch.delenv("REPLICATE_API_KEY", raising=False)
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    monkeypatch.delenv("REPLICATE_API_BASE", raising=False)  # nor a base that points elsewhere


@pytest.fixture
def redis_server(tmp_path: Any) -> Iterator[RedisServer]:
    """A real redis-server on a free 127.0.0.1 port, stopped after the test. Without redis-server
    installed the test is skipped locally, and fails under CI (where .ci/run installs it)."""
    import os
    import shutil

    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: .ci/run should have installed it")
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    server = RedisServer(str(tmp_path))
    server.start()
    try:
        yield server
    finally:
        server.stop()
