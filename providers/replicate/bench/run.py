"""``patchwire bench``: how many concurrent predictions patchwire sustains, against a bare aiohttp floor.

The run, in order:

1. start the Replicate simulator in a child process (or use ``--api-base`` with the key from
   ``REPLICATE_API_KEY``/``REPLICATE_API_TOKEN``);
2. make one prediction through patchwire and read back, from the endpoint, the input it created: the
   baseline sends exactly that body, so both sides make identical HTTP calls;
3. for each concurrency (and each ``--repeat``), run every side (baseline, patchwire, and LiteLLM with
   ``--compare litellm``) in a fresh worker process of its own (``worker``), one after another;
4. report each side's figures and its ratios to the baseline (``report``), optionally a plot.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson

import patchwire
from patchwire.errors import ConfigError

from ..keys import KEY_ENV_VARS
from ..links import normalize_base
from ..provider import PREFER_WAIT
from ..refs import create_target, parse_ref
from . import report as bench_report
from .config import MESSAGES, MODEL, BenchConfig, check, describe, simulator_args
from .simulator_process import SimulatorProcess

#: The key sent to the simulator (it accepts any non-empty token).
SIMULATOR_KEY = "r8_bench-simulator-key"
#: Extra seconds a worker may take beyond its time limit (start-up, warm-up, shutdown).
WORKER_SLACK = 60.0


def api_key(config: BenchConfig) -> str:
    if config.uses_simulator:
        return SIMULATOR_KEY
    for var in KEY_ENV_VARS:
        if os.environ.get(var):
            return os.environ[var]
    raise ConfigError("--api-base needs a key: set REPLICATE_API_KEY (or REPLICATE_API_TOKEN)")


async def _probe(base: str, key: str, max_tokens: int) -> dict[str, Any]:
    """One patchwire prediction, and the input the endpoint recorded for it."""
    async with patchwire.Router() as router:
        response = await router.acompletion(
            MODEL, [dict(m) for m in MESSAGES], api_base=base, api_key=key, max_tokens=max_tokens
        )
        assert isinstance(response, patchwire.ChatResponse)
        session = aiohttp.ClientSession()
        async with session:
            url = f"{normalize_base(base)}/v1/predictions/{response.id}"
            async with session.get(url, headers={"Authorization": f"Bearer {key}"}) as resp:
                if resp.status != 200:
                    raise ConfigError(f"could not read back prediction {response.id}: HTTP {resp.status}")
                prediction = orjson.loads(await resp.read())
    inputs = prediction.get("input")
    if not isinstance(inputs, dict):
        raise ConfigError(f"prediction {response.id} came back without its input")
    return inputs


def probe_inputs(base: str, key: str, max_tokens: int) -> dict[str, Any]:
    try:
        return asyncio.run(asyncio.wait_for(_probe(base, key, max_tokens), 120))
    except patchwire.PatchwireError as exc:
        raise ConfigError(f"the first prediction through patchwire failed: {exc}") from None


def _check_sides(config: BenchConfig, litellm_python: str | None) -> None:
    if "litellm" in config.compare and litellm_python is None and importlib.util.find_spec("litellm") is None:
        raise ConfigError(
            "--compare litellm: LiteLLM is not installed in this Python. Install it in a separate venv "
            "together with patchwire (python -m venv /tmp/llvenv && /tmp/llvenv/bin/pip install litellm "
            "-e .) and pass --litellm-python /tmp/llvenv/bin/python"
        )


def run_worker(spec: Mapping[str, Any], python: str) -> dict[str, Any]:
    """One side's run in a fresh process; its figures."""
    cmd = [python, "-m", "patchwire.providers.replicate.bench.worker"]
    try:
        done = subprocess.run(
            cmd,
            input=orjson.dumps(spec),
            stdout=subprocess.PIPE,
            timeout=spec["time_limit"] + WORKER_SLACK,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"the {spec['side']} worker did not finish in time; lower --requests") from None
    if done.returncode != 0 or not done.stdout.strip():
        raise ConfigError(
            f"the {spec['side']} worker failed (exit code {done.returncode}); its error is above"
        )
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def worker_spec(config: BenchConfig, base: str, key: str) -> dict[str, Any]:
    """What every worker of this run is told (``side`` and ``concurrency`` are added per worker)."""
    max_tokens = config.tokens
    inputs = probe_inputs(base, key, max_tokens)
    return {
        "base": base,
        "key": key,
        "create_path": create_target(parse_ref(MODEL.partition("/")[2])).path,
        "inputs": inputs,
        "messages": [dict(m) for m in MESSAGES],
        "mode": config.mode,
        "max_tokens": max_tokens,
        "prefer_wait": PREFER_WAIT,
        "connections": config.connections,
        "requests": config.requests,
        "timeout": config.time_limit,
        "time_limit": config.time_limit,
        "loop": config.loop,
        "progress": config.progress,
    }


def _measure(
    config: BenchConfig, base: str, key: str, litellm_python: str | None
) -> dict[int, dict[str, list[dict[str, Any]]]]:
    common = worker_spec(config, base, key)
    runs: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for concurrency in config.concurrency:
        by_side: dict[str, list[dict[str, Any]]] = {side: [] for side in config.sides}
        for _ in range(config.repeat):
            for side in config.sides:
                python = litellm_python if side == "litellm" and litellm_python else sys.executable
                spec = {**common, "side": side, "concurrency": concurrency}
                by_side[side].append(run_worker(spec, python))
        runs[concurrency] = by_side
    return runs


def run(config: BenchConfig, litellm_python: str | None = None) -> dict[str, Any]:
    """Run the benchmark; the report (``bench_report.build``)."""
    _check_sides(config, litellm_python)
    key = api_key(config)
    if config.uses_simulator:
        with SimulatorProcess(simulator_args(config)) as base:
            runs = _measure(config, base, key, litellm_python)
    else:
        assert config.api_base is not None
        runs = _measure(config, config.api_base, key, litellm_python)
    return bench_report.build(describe(config), runs)


#: A sweep runs at most this many predictions per slot of concurrency, so low concurrencies end soon.
SWEEP_PER_SLOT = 50


def sweep(
    concurrencies: Sequence[int], requests: int, litellm_python: str | None = None, **options: Any
) -> dict[str, Any]:
    """One run per concurrency (``requests`` predictions, or ``SWEEP_PER_SLOT`` per slot if fewer),
    merged into one report; ``options`` are further ``BenchConfig`` fields."""
    reports = []
    for c in concurrencies:
        config = check(BenchConfig(requests=min(requests, SWEEP_PER_SLOT * c), concurrency=(c,), **options))
        reports.append(run(config, litellm_python=litellm_python))
    merged = {**reports[0], "runs": [each for report in reports for each in report["runs"]]}
    merged["config"] = {
        **merged["config"],
        "requests": requests,
        "concurrency": [each["concurrency"] for each in merged["runs"]],
    }
    return merged
