"""Pacing under Replicate's enforced limits (the simulator's token buckets): a crowd of calls learns the
account's rate from its first 429s and keeps to it together, creates and polls alike; nobody fails for
rate reasons; the rate-limits benchmark reports it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from support import TEST_KEY, StartSimulator

import patchwire
from patchwire.providers.replicate.bench import rate_limits
from patchwire.providers.replicate.simulator import RateLimits

LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"


def msgs(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"call {i}"}]


async def crowd(router: patchwire.Router, url: str, calls: int) -> list[Any]:
    """``calls`` different calls at once, all to finish within a minute; their answers."""
    return await asyncio.wait_for(
        asyncio.gather(
            *(router.acompletion(LLAMA3, msgs(i), api_key=TEST_KEY, api_base=url) for i in range(calls))
        ),
        60,
    )


async def test_a_crowd_learns_the_create_rate_and_keeps_to_it(start_simulator: StartSimulator) -> None:
    # 10 creates a second, a burst of 10 (what the account refills during the 1 s a 429 asks to wait:
    # with a smaller burst, refill is lost while paused, and the rate measured is lower than the
    # account's); 40 calls at once that answer quickly.
    limits = RateLimits(creates_per_minute=600, creates_burst=10, others_per_minute=None)
    running = await start_simulator(rate_limits=limits)
    gate = patchwire.RateGate()
    async with patchwire.Router(rate_gate=gate) as router:
        results = await crowd(router, running.url, 40)
    assert len(results) == 40 and running.sim.stats.created == 40
    refused = running.sim.stats.refused["create"]
    # The slow start's window crosses the limit with a few creates on the wire, not the whole crowd
    # (30 refused); after that the gate keeps to the pace it learned.
    assert refused <= 15
    rate = gate.create_pace.rate
    assert rate is not None and 5.0 <= rate <= 20.0


async def test_a_crowd_on_an_account_it_knows_nothing_of_is_hardly_refused(
    start_simulator: StartSimulator,
) -> None:
    # 10 creates a second with a burst of 12, and 30 calls at once whose predictions take longer than
    # the gate's first guess of how fast a refusal comes back: the slow start lets about 10 a second
    # go (Replicate's documented rate) instead of all 30 at once.
    limits = RateLimits(creates_per_minute=600, creates_burst=12, others_per_minute=None)
    running = await start_simulator(rate_limits=limits, latency=1.5)
    gate = patchwire.RateGate()
    async with patchwire.Router(rate_gate=gate) as router:
        await crowd(router, running.url, 30)
    assert running.sim.stats.created == 30
    assert running.sim.stats.refused["create"] <= 2  # all at once: 18 refused


async def test_quick_answers_let_a_crowd_through_at_full_speed(start_simulator: StartSimulator) -> None:
    # No limit: every create answered within 50 ms widens the window, so after one crowd the next
    # 150 calls all go at once.
    running = await start_simulator(latency=0.05)
    gate = patchwire.RateGate()
    async with patchwire.Router(rate_gate=gate) as router:
        for _ in range(2):
            await crowd(router, running.url, 150)
    assert running.sim.stats.created == 300
    assert gate.slow_start.window >= 150


async def test_polls_of_every_call_keep_to_the_read_budget(start_simulator: StartSimulator) -> None:
    limits = RateLimits(creates_per_minute=6000, creates_burst=100, others_per_minute=600, others_burst=5)
    running = await start_simulator(rate_limits=limits, latency=3.0)
    gate = patchwire.RateGate()
    poll = {"replicate": {"prefer_wait": 0}}
    async with patchwire.Router(rate_gate=gate, provider_options=poll) as router:
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    router.acompletion(LLAMA3, msgs(i), api_key=TEST_KEY, api_base=running.url)
                    for i in range(20)
                )
            ),
            60,
        )
    stats = running.sim.stats
    assert stats.created == 20 and gate.read_pace.rate is not None
    # Twenty calls polling on their own for 3 s want some 200 polls against 10 a second: after the
    # first crowd beyond the burst (15), the polls keep to the pace together and are hardly refused.
    assert stats.by_route["get"] >= 20
    assert stats.refused["get"] <= 15 + 5


def test_rate_limits_benchmark_reports_creates_requests_and_429s(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--predictions", "60", "--model-seconds", "0.3", "--scale", "0.5", "--json", "--time-limit", "60"]
    assert rate_limits.main(argv) == 0
    sides: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["sides"]
    assert [side["side"] for side in sides] == ["patchwire"]
    report = sides[0]
    assert report["failures"] == 0 and report["created"] == 60
    assert report["create_limit_per_minute"] == 300 and report["create_burst"] == 50
    assert 1.0 <= report["requests_per_prediction"] <= 2.0
    assert set(report["requests_per_prediction_by_endpoint"]) <= {"create", "model", "get"}
    assert report["answered_429"] == report["refused_by_endpoint"].get("create", 0) + report[
        "refused_by_endpoint"
    ].get("get", 0)


def test_rate_limits_benchmark_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert rate_limits.main(["--predictions", "0"]) == 2
    assert rate_limits.main(["--scale", "nan"]) == 2
    assert rate_limits.main(["--redis", "redis://127.0.0.1:1"]) == 2
    assert "--redis needs --replicas" in capsys.readouterr().err
    assert rate_limits.main(["--compare", "litellm", "--mode", "mixed"]) == 2
    assert "not mixed" in capsys.readouterr().err
    assert rate_limits.main(["--compare", "litellm", "--replicas", "2"]) == 2
    assert "leave out --replicas" in capsys.readouterr().err
    assert rate_limits.main(["--compare", "litellm", "--litellm-python", "/nonexistent/python"]) == 2
    assert "not an executable file" in capsys.readouterr().err


def test_rate_limits_benchmark_compares_another_client_on_a_fresh_simulator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A stand-in "LiteLLM" Python whose worker fails every call the way a refused client would: the
    # comparison reports its figures next to patchwire's, each side against limits of its own.
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\ncat > /dev/null\necho \'{"errors_by_kind": {"RateLimitError(429)": 3}}\'\n')
    fake.chmod(0o755)
    argv = ["--predictions", "3", "--model-seconds", "0.3", "--scale", "0.5", "--time-limit", "60"]
    argv += ["--compare", "litellm", "--litellm-python", str(fake)]
    assert rate_limits.main([*argv, "--json"]) == 0
    ours, theirs = json.loads(capsys.readouterr().out)["sides"]
    assert ours["side"] == "patchwire" and ours["created"] == 3 and ours["failures"] == 0
    assert theirs["side"] == "litellm" and theirs["created"] == 0 and theirs["requests"] == 0
    assert theirs["failures_by_type"] == {"RateLimitError(429)": 3}
    assert rate_limits.main(argv) == 0
    table = capsys.readouterr().out
    assert "patchwire" in table and "litellm" in table and "3 (RateLimitError(429) 3)" in table
