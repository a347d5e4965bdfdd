"""The ``patchwire bench`` command (registered through the ``patchwire`` entry-point group).

Only argparse is set up here; the benchmark's modules are imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys

from patchwire.errors import PatchwireError
from patchwire.hookspecs import hookimpl

DESCRIPTION = """\
Measure concurrent prediction throughput: patchwire against a bare aiohttp baseline making the
identical HTTP calls (and LiteLLM with --compare litellm), on the Replicate simulator (run in a child
process) or a real endpoint (--api-base). Each side runs in a fresh process of its own, so its CPU time
and peak RSS are its own. With no options: 400 predictions, 100 at a time, simulator latency 50 ms."""


@hookimpl
def patchwire_register_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "bench",
        help="benchmark concurrent predictions against a bare aiohttp baseline",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run_command)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--requests", type=int, default=400, metavar="N", help="predictions per side (default 400)")
    add(
        "--concurrency",
        default="100",
        metavar="C[,C...]",
        help="predictions in flight; a comma-separated list is a sweep, e.g. 1,10,100,1000 (default 100)",
    )
    add(
        "--mode",
        choices=("wait", "poll", "stream", "mixed"),
        default="wait",
        help="how predictions are followed (mixed: with --rate-limits only)",
    )
    add("--latency", type=float, default=0.05, help="simulator: seconds from create to first token")
    add("--tokens", type=int, default=16, help="simulator: output tokens (also max_tokens sent)")
    add("--token-interval", type=float, default=0.0, help="simulator: seconds between tokens")
    add("--cold-boot", type=float, default=0.0, help="simulator: extra seconds for the first prediction")
    add(
        "--faults",
        default="",
        metavar="SPEC",
        help="simulator faults, e.g. 429=0.1,5xx=0.05,drop=0.05,cut=0.05[,retry_after=0.2]",
    )
    add("--seed", type=int, default=0, help="simulator: seed of the fault draws")
    add(
        "--api-base",
        default=None,
        metavar="URL",
        help="a real endpoint instead of the simulator (key from REPLICATE_API_KEY/REPLICATE_API_TOKEN)",
    )
    add("--compare", action="append", default=[], choices=("litellm",), help="also measure LiteLLM")
    add(
        "--litellm-python",
        default=None,
        metavar="PATH",
        help="Python with litellm and patchwire installed, for --compare litellm (default: this one)",
    )
    add(
        "--repeat",
        type=int,
        default=3,
        metavar="R",
        help="runs per side, interleaved; the report shows medians (default 3)",
    )
    add("--connections", type=int, default=1000, help="connection pool size, both sides (default 1000)")
    add("--time-limit", type=float, default=300.0, help="seconds one side's run may take (default 300)")
    add(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="event loop (auto: uvloop if installed)",
    )
    add(
        "--rate-limits",
        choices=("replicate", "low-credit"),
        default=None,
        help="instead: predictions of --model-seconds each against the simulator enforcing Replicate's "
        "limits (scaled by --limits-scale); reports creates/min against the limit, requests per "
        "prediction, 429 share (--requests predictions, all started at once; --mode wait|stream|mixed)",
    )
    add("--model-seconds", type=float, default=20.0, help="with --rate-limits: model time (default 20)")
    add("--limits-scale", type=float, default=0.4, help="with --rate-limits: of the limits (default 0.4)")
    add("--rpm", type=float, default=None, help="with --rate-limits: creates a minute given up front")
    add("--replicas", type=int, default=0, help="with --rate-limits: through N proxy replicas")
    add("--redis", default=None, metavar="URL", help="with --rate-limits: Redis the replicas share")
    add("--json", action="store_true", help="print the report as JSON")
    add("--plot", default=None, metavar="PATH", help="write a PNG of throughput and latency vs concurrency")
    add("--no-progress", action="store_true", help="no progress bar")


def run_command(args: argparse.Namespace) -> int:
    if args.rate_limits is not None:
        return _run_rate_limits(args)
    from . import report as bench_report
    from . import run as bench
    from .config import BenchConfig, check, parse_concurrency, parse_faults

    try:
        faults, retry_after = parse_faults(args.faults)
        config = check(
            BenchConfig(
                requests=args.requests,
                concurrency=parse_concurrency(args.concurrency),
                mode=args.mode,
                latency=args.latency,
                tokens=args.tokens,
                token_interval=args.token_interval,
                cold_boot=args.cold_boot,
                faults=faults,
                retry_after=retry_after,
                seed=args.seed,
                api_base=args.api_base,
                compare=tuple(dict.fromkeys(args.compare)),
                repeat=args.repeat,
                connections=args.connections,
                time_limit=args.time_limit,
                loop=args.loop,
                progress=not args.no_progress and not args.json,
            )
        )
        if args.plot:
            from .plot import _pyplot

            _pyplot()  # fail before the run, not after it
        report = bench.run(config, litellm_python=args.litellm_python)
        bench_report.write(report, args.json)
        if args.plot:
            from .plot import plot

            plot(report, args.plot)
            if not args.json:
                sys.stdout.write(f"plot written to {args.plot}\n")
    except PatchwireError as exc:
        sys.stderr.write(f"patchwire bench: {exc}\n")
        return 2
    return 0


def _run_rate_limits(args: argparse.Namespace) -> int:
    import asyncio

    from . import rate_limits

    try:
        if args.mode == "poll":
            raise PatchwireError("--rate-limits takes --mode wait, stream or mixed")
        requests = args.requests if args.requests != 400 else 600
        options = argparse.Namespace(
            predictions=requests,
            model_seconds=args.model_seconds,
            scale=args.limits_scale,
            mode=args.mode,
            timeout=300.0,
            rpm=args.rpm,
            replicas=args.replicas,
            redis=args.redis,
            time_limit=max(args.time_limit, 900.0),
            low_credit=args.rate_limits == "low-credit",
            compare=args.compare,
            litellm_python=args.litellm_python,
        )
        config = rate_limits.config_from_args(options)
        rate_limits.write(asyncio.run(rate_limits.run_sides(config)), args.json)
    except PatchwireError as exc:
        sys.stderr.write(f"patchwire bench: {exc}\n")
        return 2
    return 0
