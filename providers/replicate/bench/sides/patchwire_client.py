"""The patchwire side of the benchmark: ``Router.acompletion`` exactly as a user calls it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import patchwire
from patchwire.errors import ConfigError

from ...provider import ReplicateProvider
from ..config import MODEL


def polling_provider() -> ReplicateProvider:
    """A provider that creates without ``Prefer: wait`` and polls (``--mode poll``)."""
    try:
        return ReplicateProvider(prefer_wait=0)
    except ValueError:
        raise ConfigError(
            "--mode poll: this version of the Replicate provider always sends `Prefer: wait` "
            "(prefer_wait must be 1..60), so it cannot be measured polling from the start; "
            "use --mode wait or --mode stream"
        ) from None


def make_router(mode: str, connections: int) -> patchwire.Router:
    if mode != "poll":
        return patchwire.Router(max_connections=connections)
    plugins = patchwire.Plugins()
    plugins.register_providers(polling_provider(), name="bench-polling-provider")
    return patchwire.Router(plugins=plugins, max_connections=connections)


class PatchwireClient:
    """Runs one prediction per ``call()``; returns the time to the first token for streams."""

    def __init__(
        self,
        router: patchwire.Router,
        *,
        base: str,
        key: str,
        messages: Sequence[Mapping[str, str]],
        mode: str,
        max_tokens: int,
        timeout: float,
    ) -> None:
        self.router = router
        self.base = base
        self.key = key
        self.messages = [dict(m) for m in messages]
        self.stream = mode == "stream"
        self.max_tokens = max_tokens
        self.timeout = timeout

    async def call(self) -> float | None:
        t0 = time.perf_counter()
        result = await self.router.acompletion(
            MODEL,
            self.messages,
            api_base=self.base,
            api_key=self.key,
            max_tokens=self.max_tokens,
            timeout=self.timeout,
            stream=self.stream,
        )
        if isinstance(result, patchwire.ChatResponse):
            result.choices[0].message.content  # noqa: B018  # what a caller reads
            return None
        first: float | None = None
        async with result:
            async for chunk in result:
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter() - t0
        return first if first is not None else time.perf_counter() - t0
