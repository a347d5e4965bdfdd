"""The patchwire side of the benchmark: ``Router.acompletion`` exactly as a user calls it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import patchwire

from ..config import MODEL
from ..measure import seconds_to_first_content

#: ``--mode poll``: create without ``Prefer: wait``, then poll.
POLLING = {"replicate": {"prefer_wait": 0}}


def make_router(mode: str, connections: int) -> patchwire.Router:
    return patchwire.Router(max_connections=connections, provider_options=POLLING if mode == "poll" else None)


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
        async with result:
            return await seconds_to_first_content(result, t0)
