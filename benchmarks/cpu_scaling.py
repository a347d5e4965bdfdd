"""Client CPU per prediction as the work grows from 100 to 10,000 predictions (target: flat within 20%).

    python benchmarks/cpu_scaling.py [--sizes 100,1000,10000] [--concurrency 100]

A client whose per-prediction cost grows with the number of predictions made (a list that is never
trimmed, a cache without a bound) shows here as a rising line.
"""

from __future__ import annotations

import argparse

from patchwire.providers.replicate import bench
from patchwire.providers.replicate.bench.config import BenchConfig, check

FLAT_WITHIN = 0.20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    per: dict[str, list[float]] = {"baseline": [], "patchwire": []}
    print(f"{'predictions':>12}{'baseline µs':>14}{'patchwire µs':>14}{'ratio':>8}{'patchwire RSS MB':>18}")
    for n in sizes:
        config = check(
            BenchConfig(requests=n, concurrency=(args.concurrency,), repeat=args.repeat, progress=False)
        )
        (run,) = bench.run(config)["runs"]
        base, ours = run["sides"]["baseline"], run["sides"]["patchwire"]
        per["baseline"].append(base["cpu_per_prediction_us"])
        per["patchwire"].append(ours["cpu_per_prediction_us"])
        print(
            f"{n:>12}{base['cpu_per_prediction_us']:>14.0f}{ours['cpu_per_prediction_us']:>14.0f}"
            f"{run['ratios']['patchwire']['cpu_per_prediction']:>7.2f}x{ours['peak_rss_mb']:>18.1f}"
        )
    for side, values in per.items():
        spread = max(values) / min(values) - 1
        verdict = "flat" if spread <= FLAT_WITHIN else "NOT flat"
        print(f"{side}: max/min - 1 = {spread:.0%} ({verdict} within {FLAT_WITHIN:.0%})")


if __name__ == "__main__":
    main()
