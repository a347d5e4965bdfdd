"""Per-call overhead of the core: the router's pipeline against calling the provider directly.

Both sides run the same null provider (it answers at once, no network), so the difference is what the
core costs per call: message validation, parameter checks, the cached pipeline, the mappers, the
wrapper chain. Run:

    python benchmarks/core_overhead.py [--calls 20000]

Prints microseconds per call for the baseline (the provider alone) and for patchwire, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence

import patchwire
from patchwire.interfaces import ProviderCall, ProviderContext
from patchwire.testing import RecordingProvider, plugin
from patchwire.types import ChatRequest, Message

MESSAGES = [{"role": "system", "content": "Be a good human!"}, {"role": "user", "content": "Hi"}]


class PlainFormatter:
    """The cheapest formatter: the messages' texts joined, so the figure is the core's, not a format's."""

    name = "plain"
    models = ("*",)

    def render(self, messages: Sequence[Message]) -> str:
        return "|".join(m.text for m in messages)


class NullProvider(RecordingProvider):
    async def complete(self, call: ProviderCall) -> patchwire.ChatResponse:  # no call log: no growth
        return patchwire.ChatResponse(
            id="x",
            created=0,
            model="fake/acme/chat",
            choices=(patchwire.Choice(0, patchwire.Message("assistant", "ok")),),
        )


async def baseline(provider: NullProvider, calls: int) -> float:
    ref = provider.parse_model("acme/chat")
    messages = tuple(Message(m["role"], m["content"]) for m in MESSAGES)
    request = ChatRequest(model="fake/acme/chat", ref=ref, messages=messages, params={"max_tokens": 20})
    import aiohttp

    async with aiohttp.ClientSession() as session:
        context = ProviderContext(session=session, api_key=None, api_base=None, deadline=0.0)
        start = time.perf_counter()
        for _ in range(calls):
            await provider.complete(ProviderCall(request, {"prompt": "Hi", "max_tokens": 20}, context))
        return time.perf_counter() - start


async def through_router(provider: NullProvider, calls: int) -> float:
    plugins = patchwire.Plugins()  # the installed plugins too: the real mapper chain runs
    plugins.register(plugin(providers=[provider], formatters=[PlainFormatter()]), "bench")
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion("fake/acme/chat", MESSAGES, max_tokens=20, format="plain")  # warm
        start = time.perf_counter()
        for _ in range(calls):
            await router.acompletion("fake/acme/chat", MESSAGES, max_tokens=20, format="plain")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    provider = NullProvider()
    base = asyncio.run(baseline(provider, args.calls))
    ours = asyncio.run(through_router(provider, args.calls))
    per_base = base / args.calls * 1e6
    per_ours = ours / args.calls * 1e6
    print(f"calls: {args.calls}")
    print(f"baseline (provider alone): {per_base:8.2f} us/call")
    print(f"patchwire router:          {per_ours:8.2f} us/call")
    print(f"core overhead:             {per_ours - per_base:8.2f} us/call ({per_ours / per_base:.1f}x)")


if __name__ == "__main__":
    main()
