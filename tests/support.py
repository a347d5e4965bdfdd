"""Helpers the tests share: the test key, a bounded wait, the running-simulator handle."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from patchwire.testing import TEST_KEY, FakeReplicate, StartFakeReplicate


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds, yielding to the loop between checks; fail after ``timeout``
    seconds (a bound, never a sleep that makes a race pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout:g}s")
        await asyncio.sleep(0.005)


def install_distribution(site: Path, dist: str, module: str, source: str, entry_name: str) -> None:
    """Lay a distribution out in ``site`` exactly as pip would: module plus .dist-info with entry points."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[patchwire]\n{entry_name} = {module}\n")
    (info / "RECORD").write_text("")


#: A running simulator (``patchwire.testing.FakeReplicate``: ``sim``, ``url``, ``api_key``).
RunningSimulator = FakeReplicate
StartSimulator = StartFakeReplicate

__all__ = ["TEST_KEY", "RunningSimulator", "StartSimulator", "install_distribution", "wait_for"]
