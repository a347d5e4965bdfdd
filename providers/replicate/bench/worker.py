"""One side of one benchmark run, in a fresh process (``python -m ...bench.worker < spec.json``).

A process per side and run, so each side's CPU time and peak RSS are its own (a shared process would
carry the first side's peak into the second's). The spec (JSON on stdin) says which side, where the
endpoint is and what to run; the figures (JSON) go to stdout, the progress bar to stderr.

The side's client is built, warmed up (connections opened, the model's schema fetched) with a few
unmeasured predictions, and then measured: CPU and wall clock around the run alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import orjson

from . import workload as bench_workload
from .measure import Meter, summarize
from .workload import Call

#: Unmeasured predictions before the run (at most; never more than the run's concurrency... or 200).
WARMUP_MAX = 200


def loop_factory(choice: str) -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """The event loop to run on: uvloop when asked or (``auto``) when installed."""
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise SystemExit(
                    "--loop uvloop: uvloop is not installed; pip install 'patchwire[speed]'"
                ) from None
        else:
            return "uvloop", uvloop.new_event_loop
    return "asyncio", None


@contextlib.asynccontextmanager
async def side_client(spec: dict[str, Any]) -> AsyncIterator[Call]:
    """The side's ``call`` coroutine function, with its resources held open around the run."""
    side = spec["side"]
    common = {
        "base": spec["base"],
        "key": spec["key"],
        "messages": spec["messages"],
        "mode": spec["mode"],
        "max_tokens": spec["max_tokens"],
        "timeout": spec["timeout"],
    }
    if side == "baseline":
        from .sides.baseline import BaselineClient, make_session

        async with make_session(spec["connections"]) as session:
            client = BaselineClient(
                session,
                base=spec["base"],
                create_path=spec["create_path"],
                key=spec["key"],
                inputs=spec["inputs"],
                mode=spec["mode"],
                prefer_wait=spec["prefer_wait"],
                timeout=spec["timeout"],
            )
            yield client.call
    elif side == "patchwire":
        from .sides.patchwire_client import PatchwireClient, make_router

        async with make_router(spec["mode"], spec["connections"]) as router:
            yield PatchwireClient(router, **common).call
    elif side == "litellm":
        from .sides.litellm_client import LiteLLMClient

        litellm_client = LiteLLMClient(**common)
        try:
            yield litellm_client.call
        finally:
            close = getattr(litellm_client.litellm, "close_litellm_async_clients", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
    else:
        raise SystemExit(f"unknown side {side!r}")


def progress_bar(spec: dict[str, Any]) -> Any:
    if not spec.get("progress"):
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a nicety: no tqdm, no bar
        return None
    return tqdm(
        total=spec["requests"],
        desc=f"{spec['side']:>9} c={spec['concurrency']}",
        unit="pred",
        file=sys.stderr,
        leave=False,
        mininterval=0.25,
    )


async def measure(spec: dict[str, Any]) -> dict[str, Any]:
    requests, concurrency = spec["requests"], spec["concurrency"]
    time_limit = spec["time_limit"]
    async with side_client(spec) as call:
        warmup = min(concurrency, WARMUP_MAX, spec.get("warmup", WARMUP_MAX))
        if warmup > 0:
            # Two rounds: a fresh router's first crowd of creates is let through by its slow start
            # (``patchwire.slowstart``) a window at a time, so only the second opens every connection
            # the measured run will use (opening them is not the per-prediction cost measured).
            for _ in range(2):
                await bench_workload.run(call, warmup, warmup, time_limit=time_limit)
        gc.collect()
        bar = progress_bar(spec)
        meter = Meter()
        meter.start()
        try:
            samples = await bench_workload.run(
                call,
                requests,
                concurrency,
                time_limit=time_limit,
                progress=bar.update if bar is not None else None,
            )
        finally:
            meter.stop()
            if bar is not None:
                bar.close()
    return summarize(spec["side"], requests, concurrency, samples, meter)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    loop_name, factory = loop_factory(spec.get("loop", "auto"))
    coro: Coroutine[Any, Any, dict[str, Any]] = measure(spec)
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(coro)
    result["loop"] = loop_name
    return result


def main() -> int:
    spec = orjson.loads(sys.stdin.buffer.read())
    result = run(spec)
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
