"""Throughput and latency against concurrency: patchwire beside the bare-aiohttp baseline.

    python benchmarks/throughput_sweep.py [--requests 2000] [--concurrency 1,10,100,1000] [--mode wait]
                                          [--plot sweep.png] [--litellm-python /tmp/llvenv/bin/python]

The same as ``patchwire bench --concurrency 1,10,100,1000 --requests 2000 --plot sweep.png``; at
concurrency 1 and 10 the run is capped to 50 x concurrency predictions so it ends in seconds.
"""

from __future__ import annotations

import argparse

from patchwire.providers.replicate.bench import report as bench_report
from patchwire.providers.replicate.bench import run as bench
from patchwire.providers.replicate.bench.config import parse_concurrency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,10,100,1000")
    parser.add_argument("--mode", default="wait", choices=("wait", "poll", "stream"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plot", default=None)
    parser.add_argument("--litellm-python", default=None)
    args = parser.parse_args()
    merged = bench.sweep(
        parse_concurrency(args.concurrency),
        args.requests,
        litellm_python=args.litellm_python,
        mode=args.mode,
        repeat=args.repeat,
        compare=("litellm",) if args.litellm_python else (),
    )
    print(bench_report.render(merged), end="")
    if args.plot:
        from patchwire.providers.replicate.bench.plot import plot

        plot(merged, args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
