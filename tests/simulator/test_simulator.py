"""The Replicate simulator, exercised over real HTTP on 127.0.0.1 (and by the official client)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

import patchwire
from patchwire.cli import main as patchwire_main
from patchwire.providers.replicate.simulator import (
    Faults,
    ReplicateSimulator,
    SimulatorConfig,
    main,
)
from patchwire.providers.replicate.simulator.cli import build_parser, config_from_args
from patchwire.providers.replicate.simulator.predictions import sse_event
from patchwire.sse import SSEDecoder

TOKEN = "r8_sim-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LLAMA3 = "/v1/models/meta/meta-llama-3-8b-instruct/predictions"
LLAMA2_V = "02e509c789964a7ea8736978a43525956ef40397be9033abf9fd2badfe68c9e3"
LITELLM_EXAMPLE_V = "2796ee9483c3fd7aa2e171d38f4ca12251a30609463dcfd4cd76703f22e96cdf"
FLAN_T5_XL_V = "7a216605843d87f5426a10d2cc6940485a232336ed04d655ef86b91e020e9210"
TERMINAL = {"succeeded", "failed", "canceled", "aborted"}

Start = Callable[..., Awaitable[tuple[ReplicateSimulator, str]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """``sim, url = await start(latency=..., ...)``: a simulator served on 127.0.0.1."""
    async with contextlib.AsyncExitStack() as stack:

        async def _start(**config: Any) -> tuple[ReplicateSimulator, str]:
            config.setdefault("latency", 0.0)
            sim = ReplicateSimulator(SimulatorConfig(**config))
            url = await stack.enter_async_context(sim.serve(host="127.0.0.1", port=0))
            return sim, url

        yield _start


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # force_close: every request on its own connection, so a dropped one cannot poison the next.
    async with aiohttp.ClientSession(
        headers=AUTH, connector=aiohttp.TCPConnector(force_close=True)
    ) as session:
        yield session


async def post(http: aiohttp.ClientSession, url: str, body: Any, **headers: str) -> tuple[int, Any]:
    async with http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def poll_until(
    http: aiohttp.ClientSession, url: str, statuses: set[str], timeout: float = 5.0
) -> dict[str, Any]:
    """GET `url` until its status is in `statuses` (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = await get(http, url)
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"still {body['status']} after {timeout}s"
        await asyncio.sleep(0.005)


async def read_sse(http: aiohttp.ClientSession, url: str, **headers: str) -> str:
    async with http.get(url, headers={"Accept": "text/event-stream", **headers}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream"
        return (await resp.read()).decode()


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The stream's events as patchwire's own decoder (``patchwire.sse``) reads them, as dicts."""
    decoder = SSEDecoder()
    events = [*decoder.feed(text.encode()), *decoder.close()]
    return [{"event": e.event, "data": e.data, "id": e.id} for e in events]


# ---- create routes, shapes, auth ------------------------------------------------------------


async def test_create_official_model_fresh_shape_then_polls_to_succeeded(
    start: Start, http: aiohttp.ClientSession
) -> None:
    sim, url = await start(latency=0.02, tokens=6)
    status, body = await post(http, url + LLAMA3, {"input": {"prompt": "Hello"}})
    assert status == 201
    assert body["status"] == "starting"
    assert body["model"] == "meta/meta-llama-3-8b-instruct"
    assert body["version"].startswith("dp-")
    assert len(body["id"]) == 26 and body["id"].isalnum() and body["id"].islower()
    for absent in ("output", "started_at", "completed_at", "metrics"):
        assert absent not in body
    assert body["urls"] == {
        "get": f"{url}/v1/predictions/{body['id']}",
        "cancel": f"{url}/v1/predictions/{body['id']}/cancel",
        "stream": f"{url}/v1/streams/{body['id']}",
        "web": f"{url}/p/{body['id']}",
    }
    done = await poll_until(http, body["urls"]["get"], TERMINAL)
    assert done["status"] == "succeeded"
    assert len(done["output"]) == 6 and done["output"][-1] == ""
    assert done["started_at"] and done["completed_at"]
    metrics = done["metrics"]
    assert metrics["output_token_count"] == 6
    assert {"predict_time", "total_time", "input_token_count", "tokens_per_second"} <= set(metrics)
    assert metrics["time_to_first_token"] >= 0.02
    assert sim.predictions[body["id"]].input == {"prompt": "Hello"}
    assert sim.stats.created == 1


async def test_two_simulators_with_one_seed_never_hand_out_the_same_prediction_id(
    start: Start, http: aiohttp.ClientSession
) -> None:
    # A client that outlives one simulator (a test process, one provider shared by many tests) must
    # not meet an id it saw from another: it would take a new prediction for one it already knows.
    ids = []
    for _ in range(2):
        _, url = await start(faults=Faults(seed=7))
        status, body = await post(http, url + LLAMA3, {"input": {"prompt": "hi"}})
        assert status == 201
        ids.append(body["id"])
    assert ids[0] != ids[1]


@pytest.mark.parametrize(
    ("version", "model", "expected_version"),
    [
        (LLAMA2_V, "meta/llama-2-70b-chat", LLAMA2_V),
        (f"meta/llama-2-70b-chat:{LITELLM_EXAMPLE_V}", "meta/llama-2-70b-chat", LITELLM_EXAMPLE_V),
        ("meta/llama-2-70b-chat", "meta/llama-2-70b-chat", LLAMA2_V),
        ("custom-llm-version-id", "acme/custom-llm", "custom-llm-version-id"),
    ],
)
async def test_create_by_version_forms(
    start: Start, http: aiohttp.ClientSession, version: str, model: str, expected_version: str
) -> None:
    sim, url = await start()
    sim.add_model("acme", "custom-llm", schema_inputs="llama2", versions=["custom-llm-version-id"])
    status, body = await post(http, url + "/v1/predictions", {"version": version, "input": {"prompt": "x"}})
    assert status == 201, body
    assert (body["model"], body["version"]) == (model, expected_version)


async def test_unknown_version_model_and_non_official_model_endpoint(
    start: Start, http: aiohttp.ClientSession
) -> None:
    _, url = await start()
    status, body = await post(http, url + "/v1/predictions", {"version": "0" * 64, "input": {}})
    assert status == 422 and body["title"] == "Invalid version or not permitted"
    status, body = await post(http, url + "/v1/models/nobody/nothing/predictions", {"input": {}})
    assert status == 404 and body["status"] == 404
    # replicate/vicuna-13b is not official: it is run by version only.
    status, _ = await post(http, url + "/v1/models/replicate/vicuna-13b/predictions", {"input": {}})
    assert status == 404


async def test_create_on_deployment(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start()
    path = "/v1/deployments/ishaan-jaff/ishaan-mistral/predictions"
    status, body = await post(http, url + path, {"input": {"prompt": "[INST] hi [/INST]"}}, Prefer="wait")
    assert status == 201
    assert body["deployment"] == "ishaan-jaff/ishaan-mistral"
    assert body["model"] == "mistralai/mistral-7b-instruct-v0.2"
    assert sim.predictions[body["id"]].deployment == "ishaan-jaff/ishaan-mistral"
    status, _ = await post(http, url + "/v1/deployments/x/y/predictions", {"input": {"prompt": "a"}})
    assert status == 404


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer"])
async def test_auth_schemes_accepted(start: Start, scheme: str) -> None:
    _, url = await start()
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/v1/account", headers={"Authorization": f"{scheme} r8_x"}) as resp:
            assert resp.status == 200
            assert (await resp.json())["username"]


@pytest.mark.parametrize("header", [None, "Bearer ", "Basic abc", "Bearer wrong"])
async def test_unauthenticated_body_is_exact(start: Start, header: str | None) -> None:
    sim, url = await start(api_keys={TOKEN})
    headers = {"Authorization": header} if header is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(url + LLAMA3, json={"input": {"prompt": "a"}}, headers=headers) as resp:
            assert resp.status == 401
            assert resp.headers["Content-Type"].startswith("application/problem+json")
            assert await resp.json(content_type=None) == {
                "title": "Unauthenticated",
                "detail": "You did not pass a valid authentication token",
                "status": 401,
            }
    assert sim.stats.created == 0 and sim.stats.unauthenticated == 1


async def test_requests_log_hides_authorization_and_records_unknown_inputs(
    start: Start, http: aiohttp.ClientSession
) -> None:
    sim, url = await start()
    body = {"input": {"prompt": "a", "my_extra": 1}, "stream": True}
    _, created = await post(http, url + LLAMA3, body, **{"User-Agent": "pytest-sim"})
    record = sim.requests[-1]
    assert (record.method, record.path, record.body) == ("POST", LLAMA3, body)
    assert "Authorization" not in record.headers and record.headers["User-Agent"] == "pytest-sim"
    pred = sim.predictions[created["id"]]
    assert pred.unknown_inputs == ("my_extra",) and pred.stream is True
    assert pred.headers["User-Agent"] == "pytest-sim" and "Authorization" not in pred.headers


# ---- validation ------------------------------------------------------------------------------


async def test_input_validation_422(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start()
    bad = {"input": {"temperature": 9, "max_tokens": "many", "top_k": -5}}
    status, body = await post(http, url + LLAMA3, bad)
    assert status == 422
    assert body["title"] == "Input validation failed" and body["status"] == 422
    assert body["invalid_fields"] == [
        {"type": "required", "field": "input", "description": "prompt is required"},
        {
            "type": "number_lte",
            "field": "input.temperature",
            "description": "Must be less than or equal to 5",
        },
        {
            "type": "invalid_type",
            "field": "input.max_tokens",
            "description": "Invalid type. Expected: integer, given: string",
        },
        {"type": "number_gte", "field": "input.top_k", "description": "Must be greater than or equal to -1"},
    ]
    assert body["detail"].splitlines()[:2] == [
        "- input: prompt is required",
        "- input.temperature: Must be less than or equal to 5",
    ]
    assert sim.stats.created == 0


async def test_enum_and_top_level_body_errors(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start()
    sim.add_model(
        "acme",
        "enum-llm",
        official=True,
        schema_inputs={"prompt": {"type": "string"}, "mode": {"type": "string", "enum": ["a", "b"]}},
    )
    status, body = await post(
        http, url + "/v1/models/acme/enum-llm/predictions", {"input": {"prompt": "p", "mode": "c"}}
    )
    assert status == 422
    assert body["invalid_fields"] == [
        {"type": "enum", "field": "input.mode", "description": 'mode must be one of the following: "a", "b"'}
    ]
    status, body = await post(http, url + "/v1/predictions", {"model": "meta/x", "input": {"prompt": "p"}})
    assert status == 422
    assert {"type": "required", "field": "", "description": "version is required"} in body["invalid_fields"]
    assert {
        "type": "additional_property_not_allowed",
        "field": "",
        "description": "Additional property model is not allowed",
    } in body["invalid_fields"]


# ---- Prefer: wait, cancel, Cancel-After ------------------------------------------------------


async def test_prefer_wait_completes_in_one_request(start: Start, http: aiohttp.ClientSession) -> None:
    _, url = await start(latency=0.01, tokens=5, token_interval=0.005)
    status, body = await post(http, url + LLAMA3, {"input": {"prompt": "Hi"}}, Prefer="wait")
    assert status == 201
    assert body["status"] == "succeeded" and len(body["output"]) == 5 and "metrics" in body
    async with http.post(url + LLAMA3, json={"input": {"prompt": "Hi"}}, headers={"Prefer": "wait=5"}) as r:
        assert r.headers["Preference-Applied"] == "wait=5"
        assert r.headers["Location"].endswith((await r.json())["id"])


async def test_prefer_wait_processing_mode_mimics_2024(start: Start, http: aiohttp.ClientSession) -> None:
    _, url = await start(tokens=4, sync_status="processing")
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "Hi"}}, Prefer="wait")
    assert body["status"] == "processing" and len(body["output"]) == 4
    assert "completed_at" not in body and "metrics" not in body
    assert (await get(http, body["urls"]["get"]))["status"] == "succeeded"


async def test_prefer_wait_times_out_as_starting_even_when_processing(
    start: Start, http: aiohttp.ClientSession
) -> None:
    # Processing (first chunks out) when the 1 s wait ends: the answer must still say starting.
    sim, url = await start(latency=0.0, tokens=100, token_interval=0.1)
    began = time.monotonic()
    status, body = await post(http, url + LLAMA3, {"input": {"prompt": "Hi"}}, Prefer="wait=1")
    assert 0.9 < time.monotonic() - began < 3
    assert status == 201 and body["status"] == "starting" and "output" not in body
    assert sim.predictions[body["id"]].status() == "processing"
    await post(http, body["urls"]["cancel"], None)


async def test_cancel_running_prediction(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(tokens=100, token_interval=0.05)
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "long"}})
    await poll_until(http, body["urls"]["get"], {"processing"})
    assert sim.running() == 1
    status, canceled = await post(http, body["urls"]["cancel"], None)
    assert status == 200 and canceled["status"] == "canceled"
    assert 0 < len(canceled["output"]) < 100 and canceled["completed_at"]
    assert sim.running() == 0 and sim.stats.canceled == 1 and sim.stats.cancel_requests == 1
    again = await get(http, body["urls"]["get"])
    assert again["output"] == canceled["output"]
    # Canceling a terminal prediction changes nothing.
    status, same = await post(http, body["urls"]["cancel"], None)
    assert status == 200 and same["status"] == "canceled" and sim.stats.canceled == 1
    status, _ = await post(http, url + "/v1/predictions/nope/cancel", None)
    assert status == 404


async def test_cancel_wakes_a_waiting_create(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(latency=30)
    task = asyncio.create_task(post(http, url + LLAMA3, {"input": {"prompt": "a"}}, Prefer="wait=30"))
    deadline = time.monotonic() + 5
    while not sim.predictions:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    (pid,) = sim.predictions
    await post(http, f"{url}/v1/predictions/{pid}/cancel", None)
    status, body = await asyncio.wait_for(task, 5)
    assert status == 201 and body["status"] == "canceled"


async def test_cancel_after(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(min_cancel_after=0.05, tokens=100, token_interval=0.01)
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "a"}}, **{"Cancel-After": "150ms"})
    assert "deadline" in body
    done = await poll_until(http, body["urls"]["get"], TERMINAL)
    assert done["status"] == "canceled" and 0 < len(done["output"]) < 100
    # Not started by the deadline: aborted.
    sim.config.latency = 10
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "a"}}, **{"Cancel-After": "0.1"})
    assert (await poll_until(http, body["urls"]["get"], TERMINAL))["status"] == "aborted"
    status, body = await post(http, url + LLAMA3, {"input": {"prompt": "a"}}, **{"Cancel-After": "soon"})
    assert status == 400
    assert sim.running() == 0


async def test_cancel_after_formats_and_minimum(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(latency=100)
    for header, seconds in [("1", 5), ("30s", 30), ("5m", 300), ("1h30m45s", 5445)]:
        _, body = await post(http, url + LLAMA3, {"input": {"prompt": "a"}}, **{"Cancel-After": header})
        pred = sim.predictions[body["id"]]
        assert pred.deadline is not None
        assert pred.deadline - pred.created == pytest.approx(seconds)
        await post(http, body["urls"]["cancel"], None)
    assert sim.running() == 0


# ---- output ---------------------------------------------------------------------------------


async def test_output_is_deterministic_and_bounded_by_max_inputs(
    start: Start, http: aiohttp.ClientSession
) -> None:
    _, url = await start(tokens=12)
    outputs = []
    for _ in range(2):
        _, body = await post(http, url + LLAMA3, {"input": {"prompt": "same"}}, Prefer="wait")
        outputs.append(body["output"])
    assert outputs[0] == outputs[1]
    assert outputs[0][0] and not outputs[0][0].startswith(" ")
    assert all(chunk.startswith(" ") for chunk in outputs[0][1:-1])
    assert any("\n" in chunk for chunk in outputs[0])
    cases = [
        (LLAMA3, {"max_tokens": 3}),
        (LLAMA3, {"max_new_tokens": 4}),
        ("/v1/models/mistralai/mistral-7b-instruct-v0.2/predictions", {"max_new_tokens": 2}),
    ]
    for path, extra in cases:
        _, body = await post(http, url + path, {"input": {"prompt": "p", **extra}}, Prefer="wait")
        assert len(body["output"]) == next(iter(extra.values()))
    _, body = await post(
        http,
        url + "/v1/predictions",
        {
            "version": f"replicate/flan-t5-xl:{FLAN_T5_XL_V}",
            "input": {"prompt": "p", "max_length": 1},
        },
        Prefer="wait",
    )
    assert len(body["output"]) == 1


async def test_failures_on_purpose(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(tokens=8)
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "p", "__fail__": "boom"}}, Prefer="wait")
    assert body["status"] == "failed" and body["error"] == "boom" and len(body["output"]) == 4
    # cog-triton refuses both max_tokens and its deprecated alias.
    _, body = await post(
        http, url + LLAMA3, {"input": {"prompt": "p", "max_tokens": 100, "max_new_tokens": 50}}, Prefer="wait"
    )
    assert body["status"] == "failed" and body["error"].startswith("E1102 InvalidArgumentMaxTokens")
    sim.inject_fault("fail")
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "p"}}, Prefer="wait")
    assert body["status"] == "failed" and body["error"]
    assert sim.stats.faults["fail"] == 2


async def test_cold_boot_delays_only_first_prediction(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(cold_boot=0.15, latency=0.01)
    _, first = await post(http, url + LLAMA3, {"input": {"prompt": "a"}}, Prefer="wait")
    _, second = await post(http, url + LLAMA3, {"input": {"prompt": "a"}}, Prefer="wait")
    assert first["metrics"]["time_to_first_token"] >= 0.15
    assert second["metrics"]["time_to_first_token"] < 0.15
    sim.make_cold("meta/meta-llama-3-8b-instruct")
    _, third = await post(http, url + LLAMA3, {"input": {"prompt": "a"}}, Prefer="wait")
    assert third["metrics"]["time_to_first_token"] >= 0.15


# ---- SSE -------------------------------------------------------------------------------------


async def test_sse_framing(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(tokens=14, token_interval=0.002)
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "stream me"}})
    async with aiohttp.ClientSession() as anonymous:  # stream URLs work without auth
        text = await read_sse(anonymous, body["urls"]["stream"])
    chunks = sim.predictions[body["id"]].chunks
    assert "data:  " + chunks[1][1:] in text  # exactly one space after "data:" + the chunk's own
    events = parse_sse(text)
    outputs = [e for e in events if e["event"] == "output"]
    assert [e["data"] for e in outputs] == chunks
    assert any("\n" in e["data"] for e in outputs)  # multi-line chunk came back whole
    ids = [e["id"] for e in events]
    assert all(i.split(":")[0].isdigit() for i in ids) and len(set(ids)) == len(ids)
    assert events[-1] == {"event": "done", "id": ids[-1], "data": "{}"}
    assert text.endswith("\n\n")


@given(st.text(alphabet=st.characters(blacklist_characters="\r", blacklist_categories=["Cs"])))
def test_sse_event_round_trips_any_chunk(chunk: str) -> None:
    (event,) = parse_sse(sse_event("output", "1:0", chunk).decode())
    assert event == {"event": "output", "id": "1:0", "data": chunk}


async def test_sse_last_event_id_replays_only_later_events(start: Start, http: aiohttp.ClientSession) -> None:
    _, url = await start(tokens=8)
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "x"}}, Prefer="wait")
    full = parse_sse(await read_sse(http, body["urls"]["stream"]))
    resumed = parse_sse(await read_sse(http, body["urls"]["stream"], **{"Last-Event-ID": full[4]["id"]}))
    assert resumed == full[5:]


async def test_sse_streams_live_and_done_reasons(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(tokens=100, token_interval=0.05)
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "x"}})
    async with http.get(body["urls"]["stream"]) as resp:
        first = await resp.content.readuntil(b"\n\n")
        assert first.startswith(b"event: output\n")
        await post(http, body["urls"]["cancel"], None)
        rest = (await resp.read()).decode()
    assert parse_sse(rest)[-1]["data"] == '{"reason":"canceled"}'
    sim.config.token_interval = 0.0
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "x", "__fail__": "bad things"}})
    events = parse_sse(await read_sse(http, body["urls"]["stream"]))
    assert [e["event"] for e in events[-2:]] == ["error", "done"]
    assert events[-2]["data"] == '{"detail":"bad things"}'
    assert events[-1]["data"] == '{"reason":"error"}'
    async with http.get(url + "/v1/streams/unknown") as resp:
        assert resp.status == 404


async def test_sse_keepalive_comments_while_starting(start: Start, http: aiohttp.ClientSession) -> None:
    _, url = await start(latency=0.2, tokens=3, sse_keepalive=0.05)
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "x"}})
    text = await read_sse(http, body["urls"]["stream"])
    assert text.startswith(": keepalive\n\n")
    assert [e["event"] for e in parse_sse(text)] == ["output"] * 3 + ["done"]


# ---- list, models ---------------------------------------------------------------------------


async def test_list_pagination_and_created_after(start: Start, http: aiohttp.ClientSession) -> None:
    _, url = await start()
    created = [(await post(http, url + LLAMA3, {"input": {"prompt": str(i)}}))[1] for i in range(205)]
    ids = [c["id"] for c in reversed(created)]  # newest first
    page = await get(http, url + "/v1/predictions")
    seen = [r["id"] for r in page["results"]]
    assert len(seen) == 100 and page["next"].startswith(url + "/v1/predictions?")
    while page["next"]:
        page = await get(http, page["next"])
        seen += [r["id"] for r in page["results"]]
    assert seen == ids
    after = created[199]["created_at"]
    page = await get(http, f"{url}/v1/predictions?created_after={after}")
    assert [r["id"] for r in page["results"]] == ids[:5] and page["next"] is None
    before = created[3]["created_at"]
    page = await get(http, f"{url}/v1/predictions?created_before={before}")
    assert [r["id"] for r in page["results"]] == ids[-3:]


async def test_model_and_versions(start: Start, http: aiohttp.ClientSession) -> None:
    _, url = await start()
    model = await get(http, url + "/v1/models/meta/meta-llama-3-8b-instruct")
    schemas = model["latest_version"]["openapi_schema"]["components"]["schemas"]
    assert schemas["Output"]["x-cog-array-type"] == "iterator" and schemas["Output"]["type"] == "array"
    props = schemas["Input"]["properties"]
    assert {"max_tokens", "min_tokens", "prompt_template", "system_prompt", "presence_penalty"} <= set(props)
    llama2 = await get(http, url + "/v1/models/meta/llama-2-70b-chat/versions")
    assert [v["id"] for v in llama2["results"]][:2] == [LLAMA2_V, LITELLM_EXAMPLE_V]
    version = await get(http, f"{url}/v1/models/meta/llama-2-70b-chat/versions/{LITELLM_EXAMPLE_V}")
    props = version["openapi_schema"]["components"]["schemas"]["Input"]["properties"]
    assert "max_new_tokens" in props and "stop_sequences" in props and "prompt_template" not in props
    vicuna = await get(http, url + "/v1/models/replicate/vicuna-13b")
    assert (
        "max_length"
        in vicuna["latest_version"]["openapi_schema"]["components"]["schemas"]["Input"]["properties"]
    )
    # Replicate's names are case-insensitive.
    assert (await get(http, url + "/v1/models/mistralai/mistral-7b-instruct-v0.1"))[
        "name"
    ] == "Mistral-7B-Instruct-v0.1"
    async with http.get(url + "/v1/models/meta/llama-2-70b-chat/versions/" + "f" * 64) as resp:
        assert resp.status == 404


# ---- faults and rate limits -----------------------------------------------------------------


async def test_fault_429_has_retry_after(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(faults=Faults(rate_429=1.0, retry_after=2.5))
    async with http.post(url + LLAMA3, json={"input": {"prompt": "a"}}) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "3"
        body = await resp.json(content_type=None)
    assert body["status"] == 429 and body["retry_after"] == 3 and body["detail"]
    assert sim.stats.faults["429"] == 1 and sim.stats.created == 0


async def test_fault_5xx_and_route_targeting(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(faults=Faults(rate_5xx=1.0, routes={"get"}))
    status, body = await post(http, url + LLAMA3, {"input": {"prompt": "a"}})
    assert status == 201  # creates are not targeted
    async with http.get(body["urls"]["get"]) as resp:
        assert resp.status in (500, 502, 503)
    assert sim.stats.faults["5xx"] == 1


async def test_fault_rates_are_seeded(start: Start, http: aiohttp.ClientSession) -> None:
    async def statuses(seed: int) -> list[int]:
        sim, url = await start(faults=Faults(rate_429=0.5, seed=seed, routes={"account"}))
        codes = []
        for _ in range(20):
            async with http.get(url + "/v1/account") as resp:
                codes.append(resp.status)
        assert sim.stats.faults["429"] == codes.count(429)
        return codes

    first, again = await statuses(7), await statuses(7)
    assert first == again and 0 < first.count(429) < 20


async def test_fault_drop_makes_no_prediction(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start()
    sim.inject_fault("drop", route="create")
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(http, url + LLAMA3, {"input": {"prompt": "a"}})
    assert sim.stats.created == 0 and sim.stats.faults["drop"] == 1
    status, _ = await post(http, url + LLAMA3, {"input": {"prompt": "a"}})
    assert status == 201


async def test_fault_drop_after_create_makes_the_prediction(
    start: Start, http: aiohttp.ClientSession
) -> None:
    sim, url = await start(faults=Faults(rate_drop_after_create=1.0))
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(http, url + LLAMA3, {"input": {"prompt": "ambiguous"}})
    assert sim.stats.created == 1 and sim.stats.faults["drop_after_create"] == 1
    # The client can find it again through the list endpoint.
    page = await get(http, url + "/v1/predictions")
    assert page["results"][0]["input"] == {"prompt": "ambiguous"}


async def test_fault_cut_stream(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(tokens=10)
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "a"}}, Prefer="wait")
    sim.inject_fault("cut_stream")
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(body["urls"]["stream"]) as resp:
            async for piece in resp.content.iter_any():
                received += piece
    events = parse_sse(received.decode())
    assert events and all(e["event"] == "output" for e in events)
    assert sim.stats.faults["cut_stream"] == 1
    # A resumed stream finishes.
    rest = parse_sse(await read_sse(http, body["urls"]["stream"], **{"Last-Event-ID": events[-1]["id"]}))
    assert rest[-1]["event"] == "done"


async def test_fault_hang_until_client_leaves(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(faults=Faults(rate_hang=1.0, routes={"get"}))
    _, body = await post(http, url + LLAMA3, {"input": {"prompt": "a"}})
    with pytest.raises(asyncio.TimeoutError):
        async with http.get(body["urls"]["get"], timeout=aiohttp.ClientTimeout(total=0.2)):
            pass
    assert sim.stats.faults["hang"] == 1


def test_fault_names_and_routes_are_checked() -> None:
    sim = ReplicateSimulator(SimulatorConfig())
    with pytest.raises(ValueError, match="unknown fault"):
        sim.inject_fault("explode")
    with pytest.raises(ValueError, match="unknown route kind"):
        sim.inject_fault("429", route="creates")
    with pytest.raises(ValueError, match="unknown route kinds"):
        Faults(routes={"creates"})
    with pytest.raises(ValueError, match="rate_5xx"):
        Faults(rate_5xx=1.5)


async def test_rate_limit_per_minute(start: Start, http: aiohttp.ClientSession) -> None:
    sim, url = await start(rate_limit_per_minute=3)
    statuses = [(await post(http, url + LLAMA3, {"input": {"prompt": "a"}}))[0] for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    async with http.post(url + LLAMA3, json={"input": {"prompt": "a"}}) as resp:
        body = await resp.json(content_type=None)
        assert int(resp.headers["Retry-After"]) == body["retry_after"] >= 1
    assert body["status"] == 429 and "throttled" in body["detail"]
    assert sim.stats.rate_limited == 2 and sim.stats.created == 3


# ---- the official replicate client -------------------------------------------------------------


async def test_official_client_run_stream_create_cancel(
    start: Start, replicate_client: Callable[[str], Any]
) -> None:
    sim, url = await start(latency=0.01, tokens=9)
    client = replicate_client(url)
    inputs = {"prompt": "Write a haiku about llamas", "max_tokens": 64}

    output = await asyncio.to_thread(client.run, "meta/meta-llama-3-8b-instruct", input=inputs)
    pred = next(iter(sim.predictions.values()))
    assert output == pred.chunks and pred.input == inputs

    pinned = await asyncio.to_thread(
        lambda: "".join(client.run(f"meta/llama-2-70b-chat:{LLAMA2_V}", input={"prompt": "hi"}))
    )
    assert pinned and isinstance(pinned, str)

    def stream() -> str:
        events = client.stream("meta/meta-llama-3-8b-instruct", input={"prompt": "stream"})
        return "".join(str(e) for e in events)  # str() of non-output events is ""

    text = await asyncio.to_thread(stream)
    (streamed,) = [p for p in sim.predictions.values() if p.input["prompt"] == "stream"]
    assert text == "".join(streamed.chunks) and streamed.stream is True

    sim.config.latency = 30

    def create_and_cancel() -> tuple[str, str]:
        prediction = client.predictions.create(model="meta/meta-llama-3-8b-instruct", input={"prompt": "c"})
        prediction.cancel()
        prediction.reload()
        return prediction.id, prediction.status

    pid, status = await asyncio.to_thread(create_and_cancel)
    assert status == "canceled" and sim.predictions[pid].status() == "canceled"
    assert sim.running() == 0


# ---- command line ---------------------------------------------------------------------------


ENTRY_POINTS = {
    "patchwire fake-replicate": [sys.executable, "-m", "patchwire", "fake-replicate"],
    "python -m ...simulator": [sys.executable, "-m", "patchwire.providers.replicate.simulator"],
}
BAD_VALUES = [
    (["--fault-429", "2"], "argument --fault-429: '2' is not a probability between 0 and 1"),
    (["--fault-fail", "-0.1"], "'-0.1' is not a probability"),
    (["--fault-drop", "nan"], "'nan' is not a probability"),
    (["--latency", "-1"], "argument --latency: '-1' is not a number of seconds >= 0"),
    (["--token-interval", "inf"], "'inf' is not a number of seconds"),
    (["--tokens", "0"], "argument --tokens: '0' is not a whole number >= 1"),
    (["--tokens", "many"], "'many' is not a whole number"),
    (["--port", "70000"], "'70000' is not a port"),
    (["--rate-limit", "-5"], "'-5' is not a whole number >= 1"),
    (["--fault-routes", "create,nope"], "unknown route kind(s) nope"),
    (["--sync-status", "finished"], "invalid choice: 'finished'"),
    (["--log-level", "loud"], "'loud' is not a log level"),
    (["--api-key", ""], "an API key is one non-empty word"),
    (["--version", "a:b"], "'a:b' is not a version id"),
    (["--version", "../x"], "'../x' is not a version id"),
]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(("args", "message"), [BAD_VALUES[0], BAD_VALUES[3], BAD_VALUES[9]])
def test_bad_values_are_usage_errors_on_both_entry_points(entry: str, args: list[str], message: str) -> None:
    # A process of its own: what a user sees is the exit status and stderr, never a traceback.
    done = subprocess.run([*ENTRY_POINTS[entry], *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "usage:" in done.stderr and message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["fake-replicate", "patchwire"])
@pytest.mark.parametrize(("args", "message"), BAD_VALUES)
def test_every_option_checks_its_value(
    command: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        if command == "patchwire":
            patchwire_main(["fake-replicate", *args])
        else:
            main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_prints_url_serves_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [*ENTRY_POINTS["python -m ...simulator"], "--port", "0", "--tokens", "3"]
    cmd += ["--version", "custom-llm-version-id"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("fake-replicate listening on http://127.0.0.1:")
        base = line.split()[-1]

        async def call(path: str, body: dict[str, Any]) -> Any:
            async with aiohttp.ClientSession(headers=AUTH) as session:
                return (await post(session, base + path, body, Prefer="wait"))[1]

        assert len(asyncio.run(call(LLAMA3, {"input": {"prompt": "a"}}))["output"]) == 3
        custom = asyncio.run(
            call("/v1/predictions", {"version": "custom-llm-version-id", "input": {"prompt": "a"}})
        )
        assert (custom["model"], custom["status"]) == ("fake-replicate/custom-llm", "succeeded")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


async def test_version_option_serves_extra_version_ids() -> None:
    # README's `replicate/custom-llm-version-id` example, against `fake-replicate --version ...`.
    args = build_parser().parse_args(
        ["--version", "custom-llm-version-id", "--version", "v2", "--latency", "0"]
    )
    sim = ReplicateSimulator(config_from_args(args))
    async with sim.serve() as url, patchwire.Router() as router:
        response = await router.acompletion(
            "replicate/custom-llm-version-id",
            [{"role": "user", "content": "Hi"}],
            api_key=TOKEN,
            api_base=url,
        )
        await router.acompletion(
            "replicate/v2", [{"role": "user", "content": "Hi"}], api_key=TOKEN, api_base=url
        )
    assert response.choices[0].message.content
    made = [(p.model, p.version) for p in sim.predictions.values()]
    assert made == [
        ("fake-replicate/custom-llm", "custom-llm-version-id"),
        ("fake-replicate/custom-llm", "v2"),
    ]


def test_without_version_option_no_custom_model_is_served() -> None:
    sim = ReplicateSimulator(config_from_args(build_parser().parse_args([])))
    assert sim.catalog.resolve_version("custom-llm-version-id") is None
