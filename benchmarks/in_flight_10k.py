"""10,000 predictions in flight at once: does the client's memory stay small (target: peak RSS < 300 MB)?

    python benchmarks/in_flight_10k.py [--predictions 10000] [--latency 3]

Every prediction is started at once (concurrency = predictions) in poll mode: a create answers at once
with ``starting`` and the prediction runs for ``--latency`` seconds on the simulator, so all of them are
in flight together while each client polls them (``Prefer: wait`` would hold one connection per
prediction instead). The connection pool is 1000 for both sides, as the router's default.
"""

from __future__ import annotations

import argparse

from patchwire.providers.replicate.bench import report as bench_report
from patchwire.providers.replicate.bench import run as bench
from patchwire.providers.replicate.bench.config import BenchConfig, check

RSS_TARGET_MB = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=10000)
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--mode", default="poll", choices=("wait", "poll", "stream"))
    args = parser.parse_args()
    config = check(
        BenchConfig(
            requests=args.predictions,
            concurrency=(args.predictions,),
            mode=args.mode,
            latency=args.latency,
            repeat=1,
            time_limit=600.0,
        )
    )
    report = bench.run(config)
    print(bench_report.render(report), end="")
    ours = report["runs"][0]["sides"]["patchwire"]
    verdict = "under" if ours["peak_rss_mb"] < RSS_TARGET_MB else "OVER"
    print(
        f"patchwire peak RSS {ours['peak_rss_mb']:.1f} MB ({verdict} the {RSS_TARGET_MB:g} MB target), "
        f"grown by {ours['rss_growth_mb']} MB during the run; {ours['successes']} of "
        f"{ours['requests']} succeeded"
    )


if __name__ == "__main__":
    main()
