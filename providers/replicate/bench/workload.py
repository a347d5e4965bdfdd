"""The workload: N predictions, at most C in flight, the same driver for every side.

A side is one coroutine function, ``call() -> ttft`` (seconds to the first token for a stream, else
None), that raises on failure. C workers pull request numbers from a shared counter, so nothing is
created per request except the call itself, and a time limit stops the run (the calls in flight are
cancelled and counted as ``time_limit`` errors).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from .measure import Samples

Call = Callable[[], Awaitable[float | None]]
Progress = Callable[[int], None]


def error_kind(exc: BaseException) -> str:
    """How an error is counted: its class name, with the HTTP status where it has one."""
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    name = type(exc).__name__
    return f"{name}({status})" if isinstance(status, int) else name


async def run(
    call: Call,
    requests: int,
    concurrency: int,
    *,
    time_limit: float,
    progress: Progress | None = None,
) -> Samples:
    """Run ``requests`` calls with ``concurrency`` workers; every call's outcome lands in the samples."""
    samples = Samples()
    latencies = samples.latencies
    ttfts = samples.ttfts
    errors = samples.errors
    clock = time.perf_counter
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < requests:
            next_index += 1
            samples.started += 1
            t0 = clock()
            try:
                ttft = await call()
            except asyncio.CancelledError:
                errors["time_limit"] += 1
                raise
            except Exception as exc:  # every failure is a figure of the run, not a crash
                errors[error_kind(exc)] += 1
            else:
                latencies.append(clock() - t0)
                if ttft is not None:
                    ttfts.append(ttft)
            if progress is not None:
                progress(1)

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, requests))]
    done, pending = await asyncio.wait(tasks, timeout=time_limit)
    if pending:
        samples.stopped = True
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=30.0)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  # a bug in the harness itself
    return samples
