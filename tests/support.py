"""Helpers the tests share: the test key, a bounded wait, the running-simulator handle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

TEST_KEY = "r8_test-key-0123456789abcdef"


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds, yielding to the loop between checks; fail after ``timeout``
    seconds (a bound, never a sleep that makes a race pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout:g}s")
        await asyncio.sleep(0.005)


@attrs.define
class RunningSimulator:
    sim: Any  # patchwire.providers.replicate.simulator.ReplicateSimulator
    url: str


StartSimulator = Callable[..., Awaitable[RunningSimulator]]
