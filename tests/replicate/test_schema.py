"""Model input schemas from Replicate: where each reference form finds its schema, and how Cog's
openapi_schema becomes patchwire's InputSchema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from support import TEST_KEY, StartSimulator

from patchwire import AuthenticationError, InputSpec, ProviderContext
from patchwire.providers.replicate.provider import ReplicateProvider
from patchwire.providers.replicate.refs import parse_ref
from patchwire.providers.replicate.schema import input_schema_from_openapi
from patchwire.providers.replicate.simulator import Faults

LLAMA2_HASH = "02e509c789964a7ea8736978a43525956ef40397be9033abf9fd2badfe68c9e3"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def context(session: aiohttp.ClientSession, url: str, key: str | None = TEST_KEY) -> ProviderContext:
    return ProviderContext(
        session=session, api_key=key, api_base=url, deadline=asyncio.get_running_loop().time() + 10
    )


def paths(sim: Any) -> list[str]:
    return [r.path for r in sim.requests]


@pytest.mark.parametrize(
    ("raw", "requests", "length_input"),
    [
        ("meta/meta-llama-3-8b-instruct", ["/v1/models/meta/meta-llama-3-8b-instruct"], "max_tokens"),
        (
            f"meta/llama-2-70b-chat:{LLAMA2_HASH}",
            [f"/v1/models/meta/llama-2-70b-chat/versions/{LLAMA2_HASH}"],
            "max_new_tokens",
        ),
        (
            "deployments/ishaan-jaff/ishaan-mistral",
            [
                "/v1/deployments/ishaan-jaff/ishaan-mistral",
                "/v1/models/mistralai/mistral-7b-instruct-v0.2/versions/"
                "f5701ad84de5715051cb99d550539719f8a7fbcf65e0e62a3d1eb3f94720764e",
            ],
            "max_new_tokens",
        ),
    ],
)
async def test_schema_is_fetched_where_the_reference_points(
    simulator: Any, session: aiohttp.ClientSession, raw: str, requests: list[str], length_input: str
) -> None:
    schema = await ReplicateProvider().input_schema(parse_ref(raw), context(session, simulator.url))
    assert schema is not None
    assert schema.required == ("prompt",)
    assert schema.names[0] == "prompt"  # in the author's x-order
    assert length_input in schema
    assert schema.inputs[length_input].type == "integer" and schema.inputs[length_input].minimum == 1
    assert paths(simulator.sim) == requests


@pytest.mark.parametrize("raw", [LLAMA2_HASH, f"llama-2-70b-chat:{LLAMA2_HASH}", "custom-llm-version-id"])
async def test_references_without_a_model_have_no_schema_and_ask_nothing(
    simulator: Any, session: aiohttp.ClientSession, raw: str
) -> None:
    assert await ReplicateProvider().input_schema(parse_ref(raw), context(session, simulator.url)) is None
    assert simulator.sim.stats.requests_total == 0


async def test_unknown_model_has_no_schema(simulator: Any, session: aiohttp.ClientSession) -> None:
    # The create, not the schema fetch, gives the definitive "not found".
    ref = parse_ref("nobody/nothing")
    assert await ReplicateProvider().input_schema(ref, context(session, simulator.url)) is None


async def test_schema_needs_a_key_and_asks_nothing_without_one(
    simulator: Any, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(AuthenticationError):
        await ReplicateProvider().input_schema(
            parse_ref("meta/meta-llama-3-8b-instruct"), context(session, simulator.url, key=None)
        )
    assert simulator.sim.stats.requests_total == 0


async def test_refused_key_on_the_schema_fetch_is_an_authentication_error(
    start_simulator: StartSimulator, session: aiohttp.ClientSession
) -> None:
    running = await start_simulator(api_keys={"r8_other"})
    with pytest.raises(AuthenticationError):
        await ReplicateProvider().input_schema(
            parse_ref("meta/meta-llama-3-8b-instruct"), context(session, running.url)
        )


async def test_schema_fetch_waits_as_long_as_retry_after_says(start_simulator: StartSimulator) -> None:
    # Our own back-off would try again within 0.25 s; the server asked for 1 s.
    running = await start_simulator(faults=Faults(retry_after=1.0))
    running.sim.inject_fault("429", route="model")
    sent: list[float] = []

    async def on_request_start(*_: Any) -> None:
        sent.append(asyncio.get_running_loop().time())

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        schema = await ReplicateProvider().input_schema(
            parse_ref("meta/meta-llama-3-8b-instruct"), context(session, running.url)
        )
    assert schema is not None and "max_tokens" in schema
    assert running.sim.stats.faults["429"] == 1
    assert paths(running.sim) == ["/v1/models/meta/meta-llama-3-8b-instruct"] * 2
    assert len(sent) == 2 and sent[1] - sent[0] >= 1.0


def test_cog_enums_behind_allof_refs_are_resolved() -> None:
    openapi = {
        "components": {
            "schemas": {
                "Input": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        "format": {
                            "allOf": [{"$ref": "#/components/schemas/format"}],
                            "default": "png",
                            "x-order": 1,
                            "description": "Output format",
                        },
                        "prompt": {"type": "string", "x-order": 0},
                        "top_p": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.9, "x-order": 2},
                    },
                },
                "format": {"type": "string", "enum": ["png", "jpg"], "title": "format"},
            }
        }
    }
    schema = input_schema_from_openapi(openapi)
    assert schema is not None
    assert schema.names == ("prompt", "format", "top_p")
    assert schema.inputs["format"] == InputSpec(
        name="format", type="string", default="png", enum=("png", "jpg"), description="Output format"
    )
    assert (schema.inputs["top_p"].minimum, schema.inputs["top_p"].maximum) == (0, 1)
    assert input_schema_from_openapi({"components": {}}) is None
