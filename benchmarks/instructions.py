"""Client cost per prediction as instructions executed, patchwire beside the bare-aiohttp baseline.

    python benchmarks/instructions.py [--requests 300] [--mode wait|poll|stream]

CPU seconds on a shared VM move by ±15% from run to run; the number of instructions a run executes
does not (about ±1%), so this is the figure to compare two versions of the code by. Each side runs in
the bench's own worker (the same warm-up, client and workload as ``patchwire bench``: concurrency 100,
50 ms predictions) under valgrind's callgrind, once with ``--requests`` predictions and once with twice
as many; the difference over ``--requests`` is the cost of one prediction in the steady state, with
start-up, imports and warm-up cancelled out. Needs valgrind (Debian: ``apt-get install valgrind``);
callgrind runs the client some 50 times slower, so a default run takes a few minutes.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from patchwire.providers.replicate.bench import run as bench
from patchwire.providers.replicate.bench.config import BenchConfig, check, simulator_args
from patchwire.providers.replicate.bench.simulator_process import SimulatorProcess

#: Seconds a side's worker may take under callgrind.
TIME_LIMIT = 1800.0
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(spec: dict[str, Any]) -> int:
    """Instructions the worker executed for ``spec`` (its whole process)."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "patchwire.providers.replicate.bench.worker",
    ]
    done = subprocess.run(
        cmd, input=orjson.dumps(spec), capture_output=True, timeout=TIME_LIMIT + 60, check=False
    )
    found = _COLLECTED.search(done.stderr.decode(errors="replace"))
    if done.returncode != 0 or found is None:
        sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
        raise SystemExit(f"the {spec['side']} worker failed under valgrind (exit code {done.returncode})")
    return int(found.group(1))


def per_prediction(common: dict[str, Any], side: str, requests: int) -> float:
    spec = {**common, "side": side, "concurrency": 100, "progress": False}
    once = instructions({**spec, "requests": requests})
    twice = instructions({**spec, "requests": 2 * requests})
    return (twice - once) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--mode", choices=("wait", "poll", "stream"), default="wait")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    config = check(BenchConfig(requests=args.requests, mode=args.mode, time_limit=TIME_LIMIT))
    with SimulatorProcess(simulator_args(config)) as base:
        common = bench.worker_spec(config, base, bench.api_key(config))
        sides = ("baseline", "patchwire")
        with ThreadPoolExecutor(2) as pool:  # one valgrind per core
            counted = pool.map(lambda side: per_prediction(common, side, args.requests), sides)
            costs = dict(zip(sides, counted, strict=True))
    print(f"instructions per prediction, mode {args.mode}, {args.requests} predictions, concurrency 100")
    for side, cost in costs.items():
        print(f"{side:<10} {cost:>12,.0f}")
    print(f"patchwire/baseline {costs['patchwire'] / costs['baseline']:.2f}x")


if __name__ == "__main__":
    main()
