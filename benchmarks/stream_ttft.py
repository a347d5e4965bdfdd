"""Streaming: time to first token and end-to-end latency, patchwire beside the bare-aiohttp baseline.

    python benchmarks/stream_ttft.py [--requests 400] [--concurrency 1,100] [--token-interval 0.02]

Tokens come every ``--token-interval`` seconds after the simulator's 50 ms latency, so a stream of
16 tokens lasts about 0.05 + 15 x interval seconds; the time to the first token is what a chat UI shows.
"""

from __future__ import annotations

import argparse

from patchwire.providers.replicate.bench import report as bench_report
from patchwire.providers.replicate.bench import run as bench
from patchwire.providers.replicate.bench.config import parse_concurrency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", default="1,100")
    parser.add_argument("--token-interval", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    merged = bench.sweep(
        parse_concurrency(args.concurrency),
        args.requests,
        mode="stream",
        token_interval=args.token_interval,
        repeat=args.repeat,
    )
    print(bench_report.render(merged), end="")


if __name__ == "__main__":
    main()
