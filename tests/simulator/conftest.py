"""Fixtures of the simulator's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import TEST_KEY


@pytest.fixture
def replicate_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """``replicate_client(base_url)``: the official ``replicate`` client pointed at a simulator (polling
    fast), closed after the test; the test is skipped where the client is not installed."""
    replicate = pytest.importorskip("replicate")
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")
    clients: list[Any] = []

    def make(base_url: str) -> Any:
        clients.append(replicate.Client(api_token=TEST_KEY, base_url=base_url))
        return clients[-1]

    yield make
    for client in clients:
        client._client.close()
