"""The simulator enforces Replicate's rate limits per token: creates and everything else in separate
token buckets, 429 with Replicate's body and Retry-After, the low-credit variant, an SSE stream counted
once as it opens, refusals counted by route."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from support import StartSimulator

from patchwire.providers.replicate.simulator import RateLimits
from patchwire.providers.replicate.simulator.cli import build_parser, config_from_args

CREATE = "/v1/models/meta/meta-llama-3-8b-instruct/predictions"


def auth(token: str = "r8_one") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create(
    http: aiohttp.ClientSession, url: str, token: str = "r8_one", **body: Any
) -> tuple[int, Any, Any]:
    async with http.post(url + CREATE, json={"input": {"prompt": "hi"}, **body}, headers=auth(token)) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


async def get(http: aiohttp.ClientSession, url: str, path: str, token: str = "r8_one") -> int:
    async with http.get(url + path, headers=auth(token)) as resp:
        await resp.read()
        return resp.status


async def test_creates_and_other_requests_have_their_own_buckets(start_simulator: StartSimulator) -> None:
    limits = RateLimits(creates_per_minute=1, creates_burst=3, others_per_minute=1, others_burst=4)
    running = await start_simulator(rate_limits=limits)
    async with aiohttp.ClientSession() as http:
        answers = [await create(http, running.url) for _ in range(4)]
        assert [a[0] for a in answers] == [201, 201, 201, 429]
        _, body, headers = answers[-1]
        assert body["status"] == 429 and body["detail"].startswith("Request was throttled.")
        assert int(headers["Retry-After"]) == body["retry_after"] >= 1
        pid = answers[0][1]["id"]
        # Refused creates did not touch the other bucket: four reads, then 429.
        reads = [await get(http, running.url, f"/v1/predictions/{pid}") for _ in range(5)]
        assert reads == [200, 200, 200, 200, 429]
        # Another token has buckets of its own.
        assert (await create(http, running.url, token="r8_two"))[0] == 201
        assert await get(http, running.url, f"/v1/predictions/{pid}", token="r8_two") == 200
    stats = running.sim.stats
    assert stats.refused == {"create": 1, "get": 1} and stats.rate_limited == 2
    assert stats.by_route["create"] == 5 and stats.by_route["get"] == 6 and stats.created == 4


async def test_a_stream_counts_once_as_it_opens(start_simulator: StartSimulator) -> None:
    limits = RateLimits(creates_per_minute=600, creates_burst=10, others_per_minute=1, others_burst=2)
    running = await start_simulator(rate_limits=limits, tokens=30, token_interval=0.001)
    async with aiohttp.ClientSession() as http:
        status, prediction, _ = await create(http, running.url, stream=True)
        assert status == 201
        async with http.get(prediction["urls"]["stream"], headers=auth()) as resp:
            assert resp.status == 200
            text = await resp.text()
        assert text.count("event: output") == 30 and "event: done" in text
        # Thirty events later, one read is left of the burst of two.
        assert await get(http, running.url, f"/v1/predictions/{prediction['id']}") == 200
        assert await get(http, running.url, f"/v1/predictions/{prediction['id']}") == 429
    assert running.sim.stats.by_route["stream"] == 1


async def test_low_credit_limits_answer_with_replicates_low_credit_body(
    start_simulator: StartSimulator,
) -> None:
    running = await start_simulator(rate_limits=RateLimits.replicate_low_credit())
    async with aiohttp.ClientSession() as http:
        assert (await create(http, running.url))[0] == 201
        status, body, headers = await create(http, running.url)
    assert status == 429
    assert body["detail"].startswith(
        "Request was throttled. Your rate limit for creating predictions is reduced to 6 requests per "
        "minute with a burst of 1 requests while you have less than $5.0 in credit."
    )
    assert body["retry_after"] == int(headers["Retry-After"]) and 1 <= body["retry_after"] <= 10


def test_limits_from_the_command_line() -> None:
    def parse(*argv: str) -> Any:
        return config_from_args(build_parser().parse_args(list(argv))).rate_limits

    assert parse() is None
    assert parse("--rate-limits", "replicate") == RateLimits()
    scaled = parse("--rate-limits", "replicate", "--limits-scale", "0.4", "--creates-burst", "20")
    assert (
        scaled.creates_per_minute == 240 and scaled.creates_burst == 20 and scaled.others_per_minute == 1200
    )
    assert parse("--rate-limits", "low-credit").creates_per_minute == 6
    for bad in (["--creates-burst", "-1"], ["--limits-scale", "0"], ["--others-per-minute", "nan"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--rate-limits", "replicate", *bad])
    with pytest.raises(ValueError, match="creates_burst"):
        RateLimits(creates_burst=0)
