"""What one side's run cost its own process: CPU time, peak and grown RSS, and latency percentiles.

Each side runs in a process of its own (see ``worker``), so ``time.process_time`` and
``ru_maxrss`` are that client's alone: not the simulator's, and not another side's.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections import Counter
from collections.abc import AsyncIterable, Sequence
from typing import Any

import attrs


def peak_rss_mb() -> float:
    """The process's peak resident set so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float | None:
    """The resident set now (Linux ``/proc``); None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize() / (1024 * 1024)


@attrs.define
class Samples:
    """What the workload observed: one latency per success, TTFTs for streams, errors by kind."""

    latencies: list[float] = attrs.Factory(list)
    ttfts: list[float] = attrs.Factory(list)
    errors: Counter[str] = attrs.Factory(Counter)
    started: int = 0
    #: True when the time limit stopped the run before every request was made.
    stopped: bool = False

    @property
    def successes(self) -> int:
        return len(self.latencies)


@attrs.define
class Meter:
    """CPU and wall clock between ``start()`` and ``stop()``."""

    cpu: float = 0.0
    wall: float = 0.0
    rss_before: float | None = None
    _cpu0: float = 0.0
    _wall0: float = 0.0

    def start(self) -> None:
        self.rss_before = current_rss_mb()
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0


async def seconds_to_first_content(chunks: AsyncIterable[Any], started: float) -> float:
    """Read an OpenAI-shaped chunk stream to its end; the seconds from ``started`` (a
    ``time.perf_counter()``) to the first chunk with content, or to the end when none had any."""
    first: float | None = None
    async for chunk in chunks:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    return first if first is not None else time.perf_counter() - started


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by the nearest-rank method; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def summarize(side: str, requests: int, concurrency: int, samples: Samples, meter: Meter) -> dict[str, Any]:
    """One side's figures, as they appear in the JSON report (times in ms, CPU in µs per prediction)."""
    lat = sorted(samples.latencies)
    ttft = sorted(samples.ttfts)
    done = samples.successes + sum(samples.errors.values())
    peak = peak_rss_mb()
    return {
        "side": side,
        "concurrency": concurrency,
        "requests": requests,
        "completed": done,
        "successes": samples.successes,
        "errors": sum(samples.errors.values()),
        "errors_by_kind": dict(sorted(samples.errors.items())),
        "stopped_by_time_limit": samples.stopped,
        "wall_s": round(meter.wall, 4),
        "throughput": round(samples.successes / meter.wall, 2) if meter.wall > 0 else 0.0,
        "latency_ms": {f"p{q}": _ms(percentile(lat, q)) for q in (50, 90, 99)},
        "ttft_ms": {f"p{q}": _ms(percentile(ttft, q)) for q in (50, 90, 99)} if ttft else None,
        "cpu_s": round(meter.cpu, 4),
        "cpu_per_prediction_us": round(meter.cpu / done * 1e6, 1) if done else None,
        "peak_rss_mb": round(peak, 1),
        "rss_growth_mb": round(peak - meter.rss_before, 1) if meter.rss_before is not None else None,
    }
