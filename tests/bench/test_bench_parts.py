"""The benchmark's parts: the baseline makes patchwire's exact HTTP calls, the driver counts every
outcome, the report combines repeats and computes ratios."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import patchwire
from patchwire.errors import ConfigError
from patchwire.providers.replicate import predictions, provider
from patchwire.providers.replicate.bench import report as bench_report
from patchwire.providers.replicate.bench import workload as bench_workload
from patchwire.providers.replicate.bench.config import MESSAGES, MODEL, parse_concurrency, parse_faults
from patchwire.providers.replicate.bench.measure import percentile
from patchwire.providers.replicate.bench.sides import baseline
from patchwire.providers.replicate.bench.sides.patchwire_client import make_router
from patchwire.providers.replicate.refs import create_target, parse_ref

KEY = "r8_bench-test"
IGNORED_HEADERS = {"Host", "User-Agent"}


def test_baseline_follows_the_providers_polling_schedule() -> None:
    assert baseline.POLL_FIRST == predictions.POLL_FIRST
    assert baseline.POLL_FACTOR == predictions.POLL_FACTOR
    assert baseline.POLL_MAX == predictions.POLL_MAX
    assert baseline.TERMINAL == predictions.TERMINAL


@pytest.mark.parametrize("mode", ["wait", "poll", "stream"])
async def test_baseline_sends_the_same_requests_as_patchwire(start_simulator: Any, mode: str) -> None:
    running = await start_simulator(latency=0.0, tokens=4)
    sim, url = running.sim, running.url
    messages = [dict(m) for m in MESSAGES]
    async with make_router(mode, 10) as router:
        result = await router.acompletion(
            MODEL, messages, api_base=url, api_key=KEY, max_tokens=4, stream=mode == "stream", timeout=120
        )
        if isinstance(result, patchwire.Stream):
            async with result:
                async for _ in result:
                    pass
    ours = [r for r in sim.requests if r.path != f"/v1/models/{MODEL.partition('/')[2]}"]
    (prediction,) = sim.predictions.values()
    sim.requests.clear()
    async with baseline.make_session(10) as session:
        client = baseline.BaselineClient(
            session,
            base=url,
            create_path=create_target(parse_ref(MODEL.partition("/")[2])).path,
            key=KEY,
            inputs=prediction.input,
            mode=mode,
            prefer_wait=provider.PREFER_WAIT,
            timeout=120,
        )
        ttft = await client.call()
    theirs = list(sim.requests)
    assert [(r.method, r.path.split("/")[2]) for r in theirs] == [
        (r.method, r.path.split("/")[2]) for r in ours
    ]
    assert theirs[0].path == ours[0].path
    assert theirs[0].body == ours[0].body  # byte-for-byte the same create
    for a, b in zip(ours, theirs, strict=True):
        assert {k: v for k, v in a.headers.items() if k not in IGNORED_HEADERS} == {
            k: v for k, v in b.headers.items() if k not in IGNORED_HEADERS
        }
    assert (ttft is not None) == (mode == "stream")


async def test_baseline_counts_a_failed_prediction_as_an_error(start_simulator: Any) -> None:
    running = await start_simulator(latency=0.0, tokens=4)
    async with baseline.make_session(10) as session:
        client = baseline.BaselineClient(
            session,
            base=running.url,
            create_path=create_target(parse_ref(MODEL.partition("/")[2])).path,
            key=KEY,
            inputs={"prompt": "hi", "__fail__": "boom"},
            mode="wait",
            prefer_wait=5,
            timeout=30,
        )
        with pytest.raises(baseline.PredictionFailed):
            await client.call()


async def test_workload_counts_every_outcome() -> None:
    calls = 0

    async def call() -> float | None:
        nonlocal calls
        calls += 1
        n = calls
        await asyncio.sleep(0)
        if n % 3 == 0:
            raise patchwire.RateLimitError("slow down")
        if n % 5 == 0:
            raise ValueError("bad")
        return 0.001

    seen: list[int] = []
    samples = await bench_workload.run(call, 30, 4, time_limit=30, progress=seen.append)
    assert calls == 30
    assert samples.started == 30
    assert samples.successes + sum(samples.errors.values()) == 30
    assert samples.errors["RateLimitError(429)"] == 10
    assert samples.errors["ValueError"] == 4
    assert len(samples.ttfts) == samples.successes
    assert sum(seen) == 30
    assert not samples.stopped


async def test_workload_time_limit_stops_calls_that_never_end() -> None:
    never = asyncio.Event()

    async def call() -> float | None:
        await never.wait()
        return None

    samples = await bench_workload.run(call, 10, 3, time_limit=0.05)
    assert samples.stopped
    assert samples.errors["time_limit"] == 3  # the three in flight; the rest were never started
    assert samples.started == 3


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 90) == 7.0
    assert percentile([], 50) is None


def _side(side: str, throughput: float, p50: float, cpu: float, errors: int = 0) -> dict[str, Any]:
    return {
        "side": side,
        "concurrency": 10,
        "requests": 100,
        "completed": 100,
        "successes": 100 - errors,
        "errors": errors,
        "errors_by_kind": {"HTTPError(503)": errors} if errors else {},
        "stopped_by_time_limit": False,
        "wall_s": 1.0,
        "throughput": throughput,
        "latency_ms": {"p50": p50, "p90": p50 * 2, "p99": p50 * 3},
        "ttft_ms": None,
        "cpu_s": cpu * 100 / 1e6,
        "cpu_per_prediction_us": cpu,
        "peak_rss_mb": 40.0,
        "rss_growth_mb": 1.0,
        "loop": "uvloop",
    }


def test_report_combines_repeats_and_checks_the_targets() -> None:
    runs = {
        10: {
            "baseline": [_side("baseline", 100, 50, 200, errors=2), _side("baseline", 120, 52, 220)],
            "patchwire": [_side("patchwire", 95, 53, 280), _side("patchwire", 97, 55, 300, errors=1)],
        }
    }
    config = {"mode": "wait", "requests": 100, "repeat": 2}
    report = bench_report.build(config, runs)
    (run,) = report["runs"]
    base, ours = run["sides"]["baseline"], run["sides"]["patchwire"]
    assert base["requests"] == 200 and base["errors"] == 2 and base["successes"] == 198
    assert base["errors_by_kind"] == {"HTTPError(503)": 2}
    assert base["throughput"] == 110 and ours["cpu_per_prediction_us"] == 290
    assert run["ratios"]["patchwire"]["throughput"] == round(96 / 110, 3)
    assert run["ratios"]["patchwire"]["latency_p50_extra_ms"] == 3.0
    passed = {t["target"]: t["pass"] for t in run["targets"]}
    assert passed == {
        "throughput >= 0.9x baseline": False,
        "client CPU per prediction <= 1.5x baseline": True,
        "latency p50 <= baseline + 5 ms": True,
    }


@pytest.mark.parametrize(
    ("text", "rates", "retry_after"),
    [
        ("", {}, 1.0),
        ("429=0.1,5xx=0.05,drop=0.05,cut=0.05", {"429": 0.1, "5xx": 0.05, "drop": 0.05, "cut": 0.05}, 1.0),
        ("hang=0.01, retry_after=0.2", {"hang": 0.01}, 0.2),
    ],
)
def test_parse_faults(text: str, rates: dict[str, float], retry_after: float) -> None:
    assert parse_faults(text) == (rates, retry_after)


@pytest.mark.parametrize("text", ["429", "429=x", "429=-1", "nope=0.1", "429=0.6,5xx=0.6"])
def test_parse_faults_rejects_what_it_cannot_run(text: str) -> None:
    with pytest.raises(ConfigError, match="--faults"):
        parse_faults(text)


def test_parse_concurrency() -> None:
    assert parse_concurrency("100") == (100,)
    assert parse_concurrency("1,10,100,1000") == (1, 10, 100, 1000)
    for bad in ("", "0", "1,x"):
        with pytest.raises(ConfigError, match="--concurrency"):
            parse_concurrency(bad)
