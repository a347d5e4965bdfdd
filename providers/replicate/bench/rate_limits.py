"""``patchwire bench --rate-limits replicate``: predictions that take seconds of model time each, against
the simulator enforcing Replicate's rate limits (scaled down so a run takes minutes), through patchwire
directly or through N proxy replicas sharing Redis.

What it reports, from the simulator's own counts: sustained creates a minute over the steady part of the
run (the creates between the 10th and the 90th percentile of their times) against the create limit;
the most creates in any 60 s; requests per prediction by endpoint; the share of requests answered 429;
and the calls that failed, by error type. Every call and the whole run are bounded in time; everything
listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs

MODEL = "replicate/meta/meta-llama-3-8b-instruct"
KEY = "r8_rate-limits-bench-0123456789"
PROXY_KEY = "sk-rate-limits-bench"


@attrs.frozen(kw_only=True)
class RateLimitsBench:
    predictions: int = 600
    model_seconds: float = 20.0
    scale: float = 0.4  # of Replicate's limits: 240 creates/min, 1,200 other requests/min
    mode: str = "wait"  # wait | stream | mixed
    timeout: float = 300.0
    rpm: float | None = None  # creates a minute given up front (RateGate(per_minute=...))
    replicas: int = 0  # 0: patchwire directly; N: through N proxy replicas
    redis: str | None = None
    time_limit: float = 900.0
    low_credit: bool = False
    #: Also run LiteLLM on the same workload against the same limits (in a worker with ``litellm_python``).
    compare: tuple[str, ...] = ()
    litellm_python: str | None = None


#: Seconds after which the steady share of 429s is counted.
STEADY_AFTER = 10.0


def _steady_share(stats: Any, early: list[int]) -> float | None:
    if not early:
        return None
    requests = stats.requests_total - early[1]
    return round((stats.rate_limited - early[0]) / requests, 4) if requests else 0.0


def steady_rate(times: Sequence[float]) -> float:
    """Creates a minute between the 10th and the 90th percentile of their times."""
    if len(times) < 10:
        return 0.0
    ordered = sorted(times)
    i, j = len(ordered) // 10, (len(ordered) * 9) // 10
    span = ordered[j] - ordered[i]
    return (j - i) / span * 60.0 if span > 0 else 0.0


def busiest_minute(times: Sequence[float]) -> int:
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= 60.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run(config: RateLimitsBench, side: str = "patchwire") -> dict[str, Any]:
    """One side's run (``patchwire``, or ``litellm`` in a worker process) against a fresh simulator."""
    from patchwire.providers.replicate.simulator import RateLimits, ReplicateSimulator, SimulatorConfig

    limits = RateLimits.replicate_low_credit() if config.low_credit else RateLimits.replicate()
    limits = limits.scaled(config.scale) if not config.low_credit else limits
    sim = ReplicateSimulator(
        SimulatorConfig(
            latency=max(0.0, config.model_seconds - TOKENS * TOKEN_INTERVAL),
            tokens=TOKENS,
            token_interval=TOKEN_INTERVAL,
            rate_limits=limits,
            request_log_size=0,
        )
    )
    failures: collections.Counter[str] = collections.Counter()
    started = time.monotonic()
    async with sim.serve("127.0.0.1", 0) as url:
        early: list[int] = []

        async def note_start() -> None:
            # The first seconds hold what no client can avoid without knowing the limit up front: the
            # first crowd of creates beyond the burst. The steady share of 429s is counted after them,
            # from the first request (a worker process takes seconds to start).
            while not sim.stats.requests_total:
                await asyncio.sleep(0.05)
            await asyncio.sleep(STEADY_AFTER)
            early.extend((sim.stats.rate_limited, sim.stats.requests_total))

        sampler = asyncio.ensure_future(note_start())
        try:
            if side == "litellm":
                failures.update(await _litellm_worker(config, url))
            else:
                try:
                    async with asyncio.timeout(config.time_limit):
                        await _patchwire_calls(config, url, failures)
                except TimeoutError:
                    failures["run time limit"] += 1
        finally:
            sampler.cancel()
    wall = time.monotonic() - started
    return _report(config, side, sim, limits, early, failures, wall)


async def run_sides(config: RateLimitsBench) -> list[dict[str, Any]]:
    """patchwire's run, then each ``config.compare`` side's, each against a fresh simulator."""
    return [await run(config, side) for side in ("patchwire", *config.compare)]


#: The simulator's output: a few tokens at the end of each prediction's model time.
TOKENS, TOKEN_INTERVAL = 8, 0.25


async def _patchwire_calls(config: RateLimitsBench, url: str, failures: Any) -> None:
    import aiohttp

    import patchwire

    modes = [
        "stream" if config.mode == "stream" or (config.mode == "mixed" and i % 2) else "wait"
        for i in range(config.predictions)
    ]
    async with contextlib.AsyncExitStack() as stack:
        if config.replicas:
            bases = [await stack.enter_async_context(_proxy(config, url)) for _ in range(config.replicas)]
            http = await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            )

            async def one(i: int) -> None:
                await _through_proxy(http, bases[i % len(bases)], i, modes[i] == "stream", config, failures)
        else:
            gate = patchwire.RateGate(per_minute=config.rpm) if config.rpm else patchwire.RateGate()
            router = await stack.enter_async_context(
                patchwire.Router(rate_gate=gate, max_connections=config.predictions + 50)
            )

            async def one(i: int) -> None:
                await _direct(router, url, i, modes[i] == "stream", config, failures)

        await asyncio.gather(*(one(i) for i in range(config.predictions)))


async def _litellm_worker(config: RateLimitsBench, url: str) -> dict[str, int]:
    """Every prediction through ``litellm.acompletion`` at once, in a worker process of the LiteLLM
    Python (the ``patchwire bench`` worker, its LiteLLM side); its failures by kind."""
    import orjson

    from .run import WORKER_SLACK
    from .sides.litellm_client import quiet_environment

    spec = {
        "side": "litellm",
        "base": url,
        "key": KEY,
        "messages": [{"role": "user", "content": "one prediction"}],
        "mode": config.mode,
        "max_tokens": TOKENS,
        "timeout": config.timeout,
        "requests": config.predictions,
        "concurrency": config.predictions,
        "warmup": 0,
        "time_limit": config.time_limit,
        "progress": False,
    }
    quiet_environment()  # the worker inherits it: LiteLLM downloads nothing
    proc = await asyncio.create_subprocess_exec(
        config.litellm_python or sys.executable,
        "-m",
        "patchwire.providers.replicate.bench.worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        answer = proc.communicate(orjson.dumps(spec))
        out, _ = await asyncio.wait_for(answer, config.time_limit + WORKER_SLACK)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"run time limit": 1}
    if proc.returncode != 0 or not out.strip():
        from patchwire.errors import ConfigError

        raise ConfigError(f"the LiteLLM worker failed (exit code {proc.returncode}); its error is above")
    result: dict[str, Any] = orjson.loads(out.splitlines()[-1])
    return dict(result["errors_by_kind"])


def _report(
    config: RateLimitsBench,
    side: str,
    sim: Any,
    limits: Any,
    early: list[int],
    failures: collections.Counter[str],
    wall: float,
) -> dict[str, Any]:
    stats = sim.stats
    creates = [p.created for p in sim.predictions.values()]
    requests = stats.requests_total
    per_prediction = {k: v / config.predictions for k, v in sorted(stats.by_route.items())}
    return {
        "side": side,
        "predictions": config.predictions,
        "mode": config.mode,
        "model_seconds": config.model_seconds,
        "replicas": config.replicas if side == "patchwire" else 0,
        "create_limit_per_minute": limits.creates_per_minute,
        "create_burst": limits.creates_burst,
        "other_limit_per_minute": limits.others_per_minute,
        "sustained_creates_per_minute": round(steady_rate(creates), 1),
        "share_of_create_limit": round(steady_rate(creates) / limits.creates_per_minute, 3),
        "busiest_minute_creates": busiest_minute(creates),
        "requests": requests,
        "requests_per_prediction": round(requests / config.predictions, 2),
        "requests_per_prediction_by_endpoint": {k: round(v, 2) for k, v in per_prediction.items()},
        "answered_429": stats.rate_limited,
        "share_429": round(stats.rate_limited / requests, 4) if requests else 0.0,
        "refused_by_endpoint": dict(stats.refused),
        "share_429_after_first_10s": _steady_share(stats, early),
        "created": stats.created,
        "failures": sum(failures.values()),
        "failures_by_type": dict(failures),
        "wall_seconds": round(wall, 1),
    }


async def _direct(
    router: Any, url: str, i: int, stream: bool, config: RateLimitsBench, failures: Any
) -> None:
    import patchwire

    messages = [{"role": "user", "content": f"prediction {i}"}]
    try:
        result = await router.acompletion(
            MODEL, messages, api_key=KEY, api_base=url, stream=stream, timeout=config.timeout
        )
        if stream:
            async with result:
                async for _ in result:
                    pass
    except patchwire.PatchwireError as exc:
        failures[type(exc).__name__] += 1


async def _through_proxy(
    http: Any, base: str, i: int, stream: bool, config: RateLimitsBench, failures: Any
) -> None:
    import aiohttp

    body = {"model": "llm", "messages": [{"role": "user", "content": f"prediction {i}"}], "stream": stream}
    try:
        async with http.post(
            f"{base}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {PROXY_KEY}"},
            timeout=aiohttp.ClientTimeout(total=config.timeout + 30),
        ) as resp:
            await resp.read()
            if resp.status != 200:
                failures[f"HTTP {resp.status}"] += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        failures[type(exc).__name__] += 1


@contextlib.asynccontextmanager
async def _proxy(config: RateLimitsBench, url: str) -> AsyncIterator[str]:
    from patchwire.proxy import parse_config, serve_app

    router: dict[str, Any] = {"timeout": config.timeout}
    if config.rpm:
        router["rpm"] = config.rpm
    if config.redis:
        router["redis_url"] = config.redis
    parsed = parse_config(
        {
            "model_list": [
                {"model_name": "llm", "litellm_params": {"model": MODEL, "api_key": KEY, "api_base": url}}
            ],
            # Every call of the run comes from 127.0.0.1 and waits its turn on the replica's
            # connection: the per-client caps must not refuse the run's own crowd.
            "general_settings": {
                "master_key": PROXY_KEY,
                "max_parallel_requests": 100000,
                "max_client_connections": 100000,
                "max_client_connections_per_ip": 100000,
            },
            "router_settings": router,
        },
        source="rate-limits-bench",
    )
    async with serve_app(parsed, host="127.0.0.1", port=0) as base:
        yield base


def write(reports: list[dict[str, Any]], as_json: bool) -> None:
    """One report per side: the same figures side by side (JSON: ``{"sides": [...]}``)."""
    if as_json:
        sys.stdout.write(json.dumps({"sides": reports}, indent=2) + "\n")
        return
    first = reports[0]
    head = [
        f"rate limits: {first['predictions']} predictions of {first['model_seconds']:g} s "
        f"({first['mode']}), all started at once",
        f"  limits: {first['create_limit_per_minute']:g} creates/min (burst {first['create_burst']:g}), "
        f"{first['other_limit_per_minute']:g} other requests/min",
    ]
    rows: list[tuple[str, list[str]]] = [("", [_side_name(r) for r in reports])]
    for label, cell in _ROWS:
        rows.append((label, [cell(r) for r in reports]))
    width = max(len(label) for label, _ in rows)
    widths = [max(len(cells[i]) for _, cells in rows) for i in range(len(reports))]
    lines = head + [
        "  " + label.ljust(width) + "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        for label, cells in rows
    ]
    sys.stdout.write("\n".join(line.rstrip() for line in lines) + "\n")


def _side_name(r: dict[str, Any]) -> str:
    if r["side"] != "patchwire":
        return str(r["side"])
    return f"patchwire via {r['replicas']} replicas" if r["replicas"] else "patchwire"


def _by_endpoint(r: dict[str, Any]) -> str:
    return " ".join(f"{k} {v:g}" for k, v in r["requests_per_prediction_by_endpoint"].items())


def _share_after(r: dict[str, Any]) -> str:
    share = r["share_429_after_first_10s"]
    return f"{share:.2%}" if share is not None else "-"


def _failures(r: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["failures_by_type"].items()))
    return f"{r['failures']}" + (f" ({kinds})" if kinds else "")


_ROWS: list[tuple[str, Any]] = [
    (
        "sustained creates/min",
        lambda r: f"{r['sustained_creates_per_minute']:g} = {r['share_of_create_limit']:.1%} of the limit",
    ),
    ("busiest minute of creates", lambda r: f"{r['busiest_minute_creates']}"),
    ("requests per prediction", lambda r: f"{r['requests_per_prediction']:g}"),
    ("  by endpoint", _by_endpoint),
    ("answered 429", lambda r: f"{r['answered_429']} of {r['requests']} = {r['share_429']:.2%}"),
    ("  429 after the first 10 s", _share_after),
    ("predictions created", lambda r: f"{r['created']}"),
    ("failed calls", _failures),
    ("wall", lambda r: f"{r['wall_seconds']:g} s"),
]


def add_arguments(parser: Any) -> None:
    add = parser.add_argument
    add("--predictions", type=int, default=600, help="predictions, all started at once (default 600)")
    add("--model-seconds", type=float, default=20.0, help="model time of each prediction (default 20)")
    add("--scale", type=float, default=0.4, help="of Replicate's limits (default 0.4: 240 creates/min)")
    add("--mode", choices=("wait", "stream", "mixed"), default="wait", help="how predictions are read")
    add("--timeout", type=float, default=300.0, help="each call's timeout= (default 300)")
    add("--rpm", type=float, default=None, help="creates a minute given up front (RateGate/router_settings)")
    add("--replicas", type=int, default=0, help="run through N proxy replicas (default: patchwire directly)")
    add("--redis", default=None, metavar="URL", help="Redis the replicas share (router_settings.redis_url)")
    add("--low-credit", action="store_true", help="the low-credit limits (6 creates/min, burst 1)")
    add("--time-limit", type=float, default=900.0, help="seconds each side's run may take (default 900)")
    add("--compare", action="append", default=[], choices=("litellm",), help="also run LiteLLM")
    add(
        "--litellm-python",
        default=None,
        metavar="PATH",
        help="Python with litellm and patchwire installed, for --compare litellm (default: this one)",
    )
    add("--json", action="store_true", help="print the report as JSON")


def config_from_args(args: Any) -> RateLimitsBench:
    from patchwire.errors import ConfigError

    if not 1 <= args.predictions <= 100_000:
        raise ConfigError("--predictions must be between 1 and 100000", param="predictions")
    for name in ("model_seconds", "scale", "timeout", "time_limit"):
        value = getattr(args, name)
        if not 0 < value < float("inf"):
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive number", param=name)
    if args.replicas < 0 or args.replicas > 16:
        raise ConfigError("--replicas must be between 0 and 16", param="replicas")
    if args.redis and not args.replicas:
        raise ConfigError("--redis needs --replicas N (the replicas share it)", param="redis")
    compare = tuple(dict.fromkeys(getattr(args, "compare", None) or ()))
    litellm_python = getattr(args, "litellm_python", None)
    if compare:
        _check_litellm(args.mode, args.replicas, litellm_python)
    return RateLimitsBench(
        predictions=args.predictions,
        model_seconds=args.model_seconds,
        scale=args.scale,
        mode=args.mode,
        timeout=args.timeout,
        rpm=args.rpm,
        replicas=args.replicas,
        redis=args.redis,
        time_limit=args.time_limit,
        low_credit=args.low_credit,
        compare=compare,
        litellm_python=litellm_python,
    )


def _check_litellm(mode: str, replicas: int, python: str | None) -> None:
    import importlib.util
    import os

    from patchwire.errors import ConfigError

    if mode == "mixed":
        raise ConfigError("--compare litellm takes --mode wait or stream, not mixed", param="compare")
    if replicas:
        raise ConfigError("--compare litellm runs LiteLLM directly: leave out --replicas", param="compare")
    if python is not None and not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise ConfigError(f"--litellm-python {python!r} is not an executable file", param="litellm_python")
    if python is None and importlib.util.find_spec("litellm") is None:
        raise ConfigError(
            "--compare litellm: LiteLLM is not installed in this Python. Install it in a separate venv "
            "together with patchwire (python -m venv /tmp/llvenv && /tmp/llvenv/bin/pip install litellm "
            "-e .) and pass --litellm-python /tmp/llvenv/bin/python",
            param="compare",
        )


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from patchwire.errors import PatchwireError

    parser = argparse.ArgumentParser(prog="rate_limits", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        write(asyncio.run(run_sides(config)), args.json)
    except PatchwireError as exc:
        sys.stderr.write(f"rate limits bench: {exc}\n")
        return 2
    return 0
