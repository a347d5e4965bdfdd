"""The simulator's command line, one definition for ``patchwire fake-replicate`` and
``python -m patchwire.providers.replicate.simulator``.

Every option is checked by its argparse ``type``, so a bad value ends in a usage message and exit
status 2, never in a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Sequence

import attrs

from .catalog import ModelSpec
from .faults import FAULT_KINDS, ROUTE_KINDS, Faults
from .limits import RateLimits
from .server import ReplicateSimulator, SimulatorConfig

DESCRIPTION = "A local simulator of Replicate's HTTP API for language models."
#: The model that serves the `--version` ids.
CUSTOM_MODEL = "fake-replicate/custom-llm"
# A version id as the provider's references accept it: one path segment, no `:`.
_VERSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# ---- value checks (argparse turns their ArgumentTypeError into a usage error) ----------------


def probability(text: str) -> float:
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1")
    return value


def seconds(text: str) -> float:
    value = _float(text)
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def positive_number(text: str) -> float:
    value = _float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return value


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def port(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535; 0 picks a free one)")
    return value


def whole_number(text: str) -> int:
    return _int(text)


def route_kinds(text: str) -> frozenset[str]:
    kinds = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(kinds - ROUTE_KINDS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown route kind(s) {', '.join(unknown)}; choose from {','.join(sorted(ROUTE_KINDS))}"
        )
    return kinds


def api_key(text: str) -> str:
    if not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError("an API key is one non-empty word")
    return text


def version_id(text: str) -> str:
    if not _VERSION_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a version id (letters, digits, '.', '_', '-'; at most 128 characters)"
        )
    return text


def log_level(text: str) -> str:
    level = text.upper()
    if level not in _LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level ({', '.join(_LOG_LEVELS)})")
    return level


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


# ---- the command ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options."""
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    add("--port", type=port, default=5000, help="port (0: any free port; default 5000)")
    add("--latency", type=seconds, default=0.05, help="seconds from create to the first token")
    add("--cold-boot", type=seconds, default=0.0, help="extra seconds for a model's first prediction")
    add("--tokens", type=positive_int, default=16, help="output chunks per prediction")
    add("--token-interval", type=seconds, default=0.0, help="seconds between chunks")
    for kind in (*FAULT_KINDS, "fail"):
        add(
            f"--fault-{kind.replace('_', '-')}",
            type=probability,
            default=0.0,
            metavar="RATE",
            help=f"probability of the {kind!r} fault per request (0..1)",
        )
    add(
        "--fault-routes",
        type=route_kinds,
        default=frozenset(),
        metavar="KIND[,KIND...]",
        help=f"route kinds faults apply to (default all: {','.join(sorted(ROUTE_KINDS))})",
    )
    add("--retry-after", type=seconds, default=1.0, help="Retry-After seconds on injected 429s")
    add(
        "--seed", type=whole_number, default=0, help="seed of the random fault draws (same seed, same faults)"
    )
    add(
        "--api-key",
        type=api_key,
        action="append",
        default=None,
        help="accepted token (repeatable; default any)",
    )
    add(
        "--rate-limit",
        type=positive_int,
        default=None,
        help="creates per minute per token (nothing else limited)",
    )
    add(
        "--rate-limits",
        choices=("replicate", "low-credit"),
        default=None,
        help="enforce Replicate's limits per token: 'replicate' 600 creates/min (burst 100) and 3000 other "
        "requests/min (burst 500); 'low-credit' 6 creates/min (burst 1). Tune with the options below",
    )
    for name, what in (
        ("creates-per-minute", "creates a minute"),
        ("creates-burst", "creates at once"),
        ("others-per-minute", "other requests a minute"),
        ("others-burst", "other requests at once"),
    ):
        add(f"--{name}", type=positive_number, default=None, help=f"with --rate-limits: {what}")
    add(
        "--limits-scale",
        type=positive_number,
        default=1.0,
        metavar="FACTOR",
        help="with --rate-limits: multiply every rate and burst (0.4: 240 creates/min for a quicker run)",
    )
    add(
        "--version",
        type=version_id,
        action="append",
        default=[],
        metavar="ID",
        dest="versions",
        help=f"also serve this version id (repeatable), as a llama-2-style model {CUSTOM_MODEL}; "
        "e.g. --version custom-llm-version-id makes replicate/custom-llm-version-id callable",
    )
    add(
        "--sync-status",
        choices=("succeeded", "processing"),
        default="succeeded",
        help="status of a finished Prefer: wait answer ('processing' mimics 2024)",
    )
    add("--min-cancel-after", type=seconds, default=5.0, help="floor of Cancel-After in seconds")
    add("--log-level", type=log_level, default="WARNING", help="logging level (default WARNING)")


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    rates = {f"rate_{kind}": getattr(args, f"fault_{kind}") for kind in (*FAULT_KINDS, "fail")}
    faults = Faults(**rates, retry_after=args.retry_after, seed=args.seed, routes=args.fault_routes or None)
    owner, _, name = CUSTOM_MODEL.partition("/")
    versions = list(dict.fromkeys(args.versions))  # repeated ids once, first order kept
    extra = [ModelSpec(owner=owner, name=name, inputs="llama2", versions=versions)] if versions else []
    return SimulatorConfig(
        latency=args.latency,
        cold_boot=args.cold_boot,
        tokens=args.tokens,
        token_interval=args.token_interval,
        faults=faults,
        api_keys=set(args.api_key) if args.api_key else None,
        rate_limit_per_minute=args.rate_limit,
        rate_limits=rate_limits_from_args(args),
        sync_status=args.sync_status,
        min_cancel_after=args.min_cancel_after,
        extra_models=extra,
    )


def rate_limits_from_args(args: argparse.Namespace) -> RateLimits | None:
    preset = getattr(args, "rate_limits", None)
    if preset is None:
        return None
    limits = RateLimits.replicate() if preset == "replicate" else RateLimits.replicate_low_credit()
    if args.limits_scale != 1.0:
        limits = limits.scaled(args.limits_scale)
    chosen = {
        field: getattr(args, field)
        for field in ("creates_per_minute", "creates_burst", "others_per_minute", "others_burst")
        if getattr(args, field) is not None
    }
    return attrs.evolve(limits, **chosen) if chosen else limits


async def run_forever(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 5000) -> None:
    """Serve until SIGINT/SIGTERM; prints one line with the URL once listening."""
    sim = ReplicateSimulator(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with sim.serve(host, port) as url:
            print(f"fake-replicate listening on {url}", flush=True)
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def run(args: argparse.Namespace) -> int:
    """Run the simulator the parsed `args` describe, until interrupted."""
    logging.basicConfig(level=args.log_level)
    logging.getLogger().setLevel(args.log_level)  # also when `patchwire` installed a handler first
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_forever(config_from_args(args), args.host, args.port))
    return 0


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """`parser` (or a new one) with the simulator's options, running it when parsed."""
    if parser is None:
        parser = argparse.ArgumentParser(prog="fake-replicate", description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args)
