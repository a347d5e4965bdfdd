"""The LiteLLM side of ``--compare litellm``: ``litellm.acompletion`` against the same simulator.

LiteLLM is never a dependency: this module is imported only in a benchmark worker whose interpreter has
it. LiteLLM ignores ``api_base`` for Replicate and always creates at ``https://api.replicate.com``, so
its create URL is redirected to the simulator, and every request it sends is checked to go to the
loopback address: the comparison must never reach the real API. ``HF_HUB_OFFLINE=1`` (and LiteLLM's
local cost map) keep it from spending tens of seconds downloading tokenizers and prices.

LiteLLM polls with sleeps (non-streaming: 1 s, then 3 s, 5 s...; streaming: every 0.5 s), so its
latency is dominated by those sleeps, not by the network.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..config import MODEL
from ..measure import seconds_to_first_content

REPLICATE = "https://api.replicate.com"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def quiet_environment() -> None:
    """Set before ``import litellm``: no downloads at import or first call."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")


def redirect_to(base: str) -> Any:
    """Import LiteLLM with its Replicate create URL moved onto ``base`` and non-loopback traffic refused."""
    quiet_environment()
    import httpx
    import litellm
    from litellm.llms.replicate.chat.transformation import ReplicateConfig

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    original = ReplicateConfig.get_complete_url

    def get_complete_url(self: Any, *args: Any, **kwargs: Any) -> str:
        url: str = original(self, *args, **kwargs)
        return base.rstrip("/") + url[len(REPLICATE) :] if url.startswith(REPLICATE) else url

    ReplicateConfig.get_complete_url = get_complete_url

    send = httpx.AsyncClient.send

    async def loopback_only(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        host = urlsplit(str(request.url)).hostname
        if host not in LOOPBACK:
            raise RuntimeError(f"benchmark: LiteLLM tried to reach {host}; only 127.0.0.1 is allowed")
        return await send(self, request, **kwargs)

    httpx.AsyncClient.send = loopback_only  # type: ignore[method-assign,unused-ignore]
    return litellm


class LiteLLMClient:
    """Runs one prediction per ``call()`` through ``litellm.acompletion``."""

    def __init__(
        self,
        *,
        base: str,
        key: str,
        messages: Sequence[Mapping[str, str]],
        mode: str,
        max_tokens: int,
        timeout: float,
    ) -> None:
        self.litellm = redirect_to(base)
        self.key = key
        self.messages = [dict(m) for m in messages]
        self.stream = mode == "stream"
        self.max_tokens = max_tokens
        self.timeout = timeout

    async def call(self) -> float | None:
        t0 = time.perf_counter()
        response = await self.litellm.acompletion(
            model=MODEL,
            messages=self.messages,
            api_key=self.key,
            max_tokens=self.max_tokens,
            timeout=self.timeout,
            stream=self.stream,
        )
        if not self.stream:
            response.choices[0].message.content  # noqa: B018  # what a caller reads
            return None
        return await seconds_to_first_content(response, t0)
