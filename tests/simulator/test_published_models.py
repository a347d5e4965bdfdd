"""The simulator's catalogue of published models (models.json): schemas, validation as Replicate
does it, output shapes, reasoning output, and the Files API. Real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.parse
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

import aiohttp
import pytest
from support import TEST_KEY, RunningSimulator, StartSimulator

from patchwire.providers.replicate.simulator import ReplicateSimulator, SimulatorConfig

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
RECORDS: dict[str, Any] = json.loads(
    resources.files("patchwire.providers.replicate.simulator").joinpath("models.json").read_text()
)["models"]
BUILTIN = {
    "meta/meta-llama-3-8b-instruct",
    "meta/meta-llama-3-70b-instruct",
    "mistralai/mixtral-8x7b-instruct-v0.1",
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def create(
    http: aiohttp.ClientSession, running: RunningSimulator, ref: str, values: dict[str, Any], **body: Any
) -> tuple[int, Any]:
    """Create a prediction of `ref` at its latest version, waiting for it to finish."""
    model = running.sim.catalog.model(*ref.split("/"))
    payload = {"version": f"{ref}:{model.default_version}", "input": values, **body}
    headers = {"Prefer": "wait"}
    async with http.post(f"{running.url}/v1/predictions", json=payload, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def upload(
    http: aiohttp.ClientSession, url: str, content: bytes, **fields: str
) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("content", content, filename="cat.png", content_type="image/png")
    for name, value in fields.items():
        form.add_field(name, value)
    async with http.post(f"{url}/v1/files", data=form) as resp:
        await resp.read()
        return resp


# ---- the catalogue ----------------------------------------------------------------------------


async def test_every_published_model_is_served_with_its_schema(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    for ref, record in RECORDS.items():
        async with http.get(f"{simulator.url}/v1/models/{ref}") as resp:
            assert resp.status == 200, ref
            model = await resp.json()
        schemas = model["latest_version"]["openapi_schema"]["components"]["schemas"]
        if ref in BUILTIN:  # the built-in model (and its schema) is kept
            assert "prompt" in schemas["Input"]["properties"]
            continue
        assert list(schemas["Input"]["properties"]) == list(record["input"]), ref
        assert model["latest_version"]["id"] == next(
            iter(record.get("versions_seen", {})), model["latest_version"]["id"]
        )
        required = set(record.get("required", ())) | {
            k for k, p in record["input"].items() if p.get("required") is True
        }
        assert set(schemas["Input"]["required"]) == required, ref
        expected_output = (
            record["output"]["type"] if record["output"]["type"] in ("array", "string") else "array"
        )
        assert schemas["Output"]["type"] == expected_output, ref
        async with http.get(f"{simulator.url}/v1/models/{ref}/versions") as resp:
            listed = [v["id"] for v in (await resp.json())["results"]]
        assert listed == list(record.get("versions_seen", {})) or len(listed) == 1


async def test_builtin_models_are_kept(simulator: RunningSimulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{simulator.url}/v1/models/meta/meta-llama-3-8b-instruct") as resp:
        model = await resp.json()
    assert model["latest_version"]["id"] == "dp-a557b7387b4940df25b23f779dc534c4"
    assert (
        "system_prompt"
        in model["latest_version"]["openapi_schema"]["components"]["schemas"]["Input"]["properties"]
    )


async def test_enums_are_published_as_cog_writes_them(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{simulator.url}/v1/models/openai/gpt-5") as resp:
        schemas = (await resp.json())["latest_version"]["openapi_schema"]["components"]["schemas"]
    prop = schemas["Input"]["properties"]["reasoning_effort"]
    assert prop["allOf"] == [{"$ref": "#/components/schemas/reasoning_effort"}] and "type" not in prop
    assert schemas["reasoning_effort"]["enum"] == ["minimal", "low", "medium", "high"]
    assert prop["default"] == "minimal" and prop["x-order"] == 4


# ---- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "values", "invalid"),
    [
        (
            "openai/gpt-5",
            {"prompt": "hi", "reasoning_effort": "extreme"},
            {
                "type": "enum",
                "field": "input.reasoning_effort",
                "description": "reasoning_effort must be one of the following: "
                '"minimal", "low", "medium", "high"',
            },
        ),
        (
            "google/gemini-3-flash",
            {"prompt": "hi", "thinking_level": None},
            {
                "type": "invalid_type",
                "field": "input.thinking_level",
                "description": "Invalid type. Expected: string, given: null",
            },
        ),
        (
            "anthropic/claude-3.7-sonnet",
            {"prompt": "hi", "max_tokens": 1000},
            {
                "type": "number_gte",
                "field": "input.max_tokens",
                "description": "Must be greater than or equal to 1024",
            },
        ),
        (
            "anthropic/claude-3.7-sonnet",
            {"prompt": "hi", "max_image_resolution": 2.5},
            {
                "type": "number_lte",
                "field": "input.max_image_resolution",
                "description": "Must be less than or equal to 2",
            },
        ),
        (
            "openai/gpt-4.1",
            {"prompt": "hi", "image_input": "https://example.com/cat.png"},
            {
                "type": "invalid_type",
                "field": "input.image_input",
                "description": "Invalid type. Expected: array, given: string",
            },
        ),
        (
            "openai/gpt-4.1",
            {"prompt": "hi", "image_input": ["https://example.com/cat.png", 7]},
            {
                "type": "invalid_type",
                "field": "input.image_input.1",
                "description": "Invalid type. Expected: string, given: integer",
            },
        ),
        (
            "anthropic/claude-4-sonnet",
            {"prompt": "hi", "image": "cat.png"},
            {"type": "format", "field": "input.image", "description": "Does not match format 'uri'"},
        ),
        (
            "yorickvp/llava-13b",
            {"prompt": "what is this?"},
            {"type": "required", "field": "input", "description": "image is required"},
        ),
    ],
)
async def test_inputs_are_validated_as_replicate_does(
    simulator: RunningSimulator,
    http: aiohttp.ClientSession,
    ref: str,
    values: dict[str, Any],
    invalid: dict[str, str],
) -> None:
    status, body = await create(http, simulator, ref, values)
    assert status == 422
    assert body == {
        "detail": f"- {invalid['field']}: {invalid['description']}\n",
        "status": 422,
        "title": "Input validation failed",
        "invalid_fields": [invalid],
    }
    assert simulator.sim.stats.created == 0


async def test_valid_inputs_of_every_kind_pass(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    values = {
        "messages": [{"role": "user", "content": "hi"}],
        "image_input": ["https://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo="],
        "reasoning_effort": "high",
        "verbosity": "low",
        "max_completion_tokens": 100,
    }
    status, body = await create(http, simulator, "openai/gpt-5", values)
    assert (status, body["status"]) == (201, "succeeded")
    (prediction,) = simulator.sim.predictions.values()
    assert prediction.input == values and prediction.unknown_inputs == ()


async def test_official_published_model_runs_by_name(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    url = f"{simulator.url}/v1/models/anthropic/claude-4-sonnet/predictions"
    async with http.post(url, json={"input": {"prompt": "hi"}}, headers={"Prefer": "wait"}) as resp:
        assert resp.status == 201
        body = await resp.json()
    assert body["version"] == next(iter(RECORDS["anthropic/claude-4-sonnet"]["versions_seen"]))
    assert "".join(body["output"])


# ---- outputs ---------------------------------------------------------------------------------


async def test_string_output_model_returns_one_string(
    start_simulator: StartSimulator, http: aiohttp.ClientSession
) -> None:
    running = await start_simulator(tokens=6)
    status, body = await create(
        http, running, "google-deepmind/gemma-3-27b-it", {"prompt": "hi"}, stream=True
    )
    assert status == 201 and isinstance(body["output"], str) and body["output"]
    assert body["metrics"]["output_token_count"] == 6
    async with http.get(body["urls"]["stream"]) as resp:
        events = await resp.text()
    outputs = [block for block in events.split("\n\n") if block.startswith("event: output")]
    assert len(outputs) == 1  # one content event, the whole text
    text = "\n".join(line[6:] for line in outputs[0].split("\n") if line.startswith("data: "))
    assert text == body["output"]


async def test_iterator_output_model_returns_chunks(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    status, body = await create(http, simulator, "deepseek-ai/deepseek-v3", {"prompt": "hi"})
    assert status == 201 and isinstance(body["output"], list) and len(body["output"]) == 16
    assert "<think>" not in "".join(body["output"])


async def test_reasoning_model_thinks_inline_first(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    status, body = await create(
        http, simulator, "deepseek-ai/deepseek-r1", {"prompt": "hi", "max_tokens": 12}
    )
    assert status == 201
    text = "".join(body["output"])
    assert text.startswith("<think>\n") and text.count("</think>") == 1
    thought, _, answer = text.removeprefix("<think>\n").partition("\n</think>\n\n")
    assert thought.strip() and answer.strip() and len(body["output"]) <= 12
    async with http.get(body["urls"]["stream"]) as resp:
        events = (await resp.text()).split("\n\n")
    data = [[line[6:] for line in e.split("\n") if line.startswith("data: ")] for e in events]
    streamed = ["\n".join(d) for e, d in zip(events, data, strict=True) if e.startswith("event: output")]
    assert streamed == body["output"] and streamed[0] == "<think>\n"


async def test_a_model_added_at_run_time_takes_the_same_shapes(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    simulator.sim.add_model(
        "acme",
        "thinker",
        schema_inputs={
            "prompt": {"type": "string"},
            "effort": {"allOf": [{"$ref": "#/components/schemas/effort"}]},
        },
        components={"effort": {"type": "string", "enum": ["low", "high"]}},
        output={"type": "string", "title": "Output"},
        think=True,
        versions=["v1"],
    )
    status, body = await create(http, simulator, "acme/thinker", {"prompt": "hi", "effort": "mid"})
    assert status == 422 and body["invalid_fields"][0]["type"] == "enum"
    status, body = await create(http, simulator, "acme/thinker", {"prompt": "hi", "effort": "low"})
    assert status == 201 and body["output"].startswith("<think>\n")


# ---- files -----------------------------------------------------------------------------------


async def test_upload_then_read_it_back_and_pass_the_url(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("content", PNG, filename="cat.png", content_type="image/png")
    form.add_field("metadata", '{"purpose": "test"}')
    async with http.post(f"{simulator.url}/v1/files", data=form) as resp:
        assert resp.status == 201
        uploaded = await resp.json()
    assert uploaded["name"] == "cat.png" and uploaded["content_type"] == "image/png"
    assert uploaded["size"] == len(PNG) and uploaded["metadata"] == {"purpose": "test"}
    assert set(uploaded["checksums"]) == {"sha256", "md5"} and uploaded["expires_at"] > uploaded["created_at"]
    get_url = uploaded["urls"]["get"]
    assert get_url == f"{simulator.url}/v1/files/{uploaded['id']}"
    async with http.get(get_url) as resp:  # the file object again, as on Replicate; not the bytes
        assert (resp.status, resp.content_type, await resp.json()) == (200, "application/json", uploaded)
    async with aiohttp.ClientSession() as anonymous:  # a signed link needs no token
        async with anonymous.get(simulator.sim.download_url(get_url)) as resp:
            assert (resp.status, resp.content_type, await resp.read()) == (200, "image/png", PNG)
    status, _ = await create(
        http, simulator, "anthropic/claude-4-sonnet", {"prompt": "what is it?", "image": get_url}
    )
    assert status == 201
    (prediction,) = simulator.sim.predictions.values()
    assert simulator.sim.file(prediction.input["image"]).content == PNG


async def test_a_file_is_readable_only_with_the_key_that_uploaded_it(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    assert (await upload(http, simulator.url, PNG)).status == 201
    (uploaded,) = simulator.sim.files.values()
    url = f"{simulator.url}/v1/files/{uploaded.id}"
    async with aiohttp.ClientSession() as anonymous, anonymous.get(url) as resp:
        assert resp.status == 401
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer r8_someone-else"}) as other:
        async with other.get(url) as resp:
            assert resp.status == 404
        async with other.delete(url) as resp:
            assert resp.status == 404
    async with http.delete(url) as resp:
        assert resp.status == 204
    async with http.get(url) as resp:
        assert resp.status == 404


async def test_a_download_link_works_only_as_signed_and_until_it_expires(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    assert (await upload(http, simulator.url, PNG)).status == 201
    assert (await upload(http, simulator.url, b"other")).status == 201
    first, second = simulator.sim.files.values()
    link = simulator.sim.download_url(first.id)
    path, _, query = link.partition("?")
    params = dict(urllib.parse.parse_qsl(query))
    assert path == f"{simulator.url}/v1/files/{first.id}/download" and params["owner"] == "simulator"

    async def status_of(url: str, **changes: str) -> int:
        async with aiohttp.ClientSession() as anonymous:
            query = urllib.parse.urlencode({**params, **changes}) if changes else url.partition("?")[2]
            async with anonymous.get(f"{url.partition('?')[0]}?{query}") as resp:
                return resp.status

    assert await status_of(link) == 200
    other = f"{simulator.url}/v1/files/{second.id}/download"
    assert await status_of(other, x="1") == 403  # another file's signature
    assert await status_of(path, expiry=str(int(params["expiry"]) + 1)) == 403  # a longer life
    assert await status_of(path, owner="mallory") == 403
    assert await status_of(path, signature=params["signature"][:-2]) == 403
    assert await status_of(path, expiry="1e9") == 400
    async with aiohttp.ClientSession() as anonymous, anonymous.get(path) as resp:
        assert resp.status == 400
    assert await status_of(simulator.sim.download_url(first.id, expires_in=-1)) == 403  # expired
    assert await status_of(f"{simulator.url}/v1/files/nosuchfile/download", x="1") == 404


async def test_files_are_listed_newest_first_to_their_own_key_only(
    start_simulator: StartSimulator, http: aiohttp.ClientSession
) -> None:
    running = await start_simulator()
    for i in range(3):
        assert (await upload(http, running.url, PNG, filename=f"{i}.png")).status == 201
    async with http.get(f"{running.url}/v1/files") as resp:
        listing = await resp.json()
    assert [f["name"] for f in listing["results"]] == ["2.png", "1.png", "0.png"]
    assert listing["next"] is None
    for cursor in ("2", "x", "²", "-1", "9" * 40):  # a cursor that is not a page number is the first page
        async with http.get(f"{running.url}/v1/files", params={"cursor": cursor}) as resp:
            assert resp.status == 200
            names = [f["name"] for f in (await resp.json())["results"]]
            assert names == (["0.png"] if cursor == "2" else ["2.png", "1.png", "0.png"]), cursor
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer r8_someone-else"}) as other:
        async with other.get(f"{running.url}/v1/files") as resp:
            assert (await resp.json())["results"] == []


async def test_official_client_reads_files_back(
    simulator: RunningSimulator, replicate_client: Callable[[str], Any]
) -> None:
    client = replicate_client(simulator.url)

    def upload_get_list() -> tuple[Any, Any, Any]:
        file = client.files.create(io.BytesIO(PNG), filename="cat.png", content_type="image/png")
        return file, client.files.get(file.id), client.files.list()

    file, fetched, listed = await asyncio.to_thread(upload_get_list)
    assert fetched.id == file.id and fetched.size == len(PNG) and fetched.urls == file.urls
    assert [f.id for f in listed] == [file.id]


async def test_bad_uploads_are_refused(start_simulator: StartSimulator, http: aiohttp.ClientSession) -> None:
    running = await start_simulator(max_upload_bytes=1000)
    async with http.post(f"{running.url}/v1/files", json={"content": "x"}) as resp:
        assert resp.status == 415
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("filename", "cat.png")
    async with http.post(f"{running.url}/v1/files", data=form) as resp:
        body = await resp.json(content_type=None)
    assert resp.status == 422 and body["invalid_fields"][0]["description"] == "content is required"
    assert (await upload(http, running.url, b"x" * 1001)).status == 413
    assert (await upload(http, running.url, b"x", type="image/png\r\nX-Evil: 1")).status == 422
    assert (await upload(http, running.url, b"x", metadata="[1]")).status == 422
    assert (await upload(http, running.url, b"x", filename="a" * 256)).status == 422
    assert (await upload(http, running.url, b"x", other="y" * (64 * 1024 + 1))).status == 413
    many = {f"field{i}": "y" for i in range(20)}
    assert (await upload(http, running.url, b"x", **many)).status == 400
    assert running.sim.files == {}
    assert (await upload(http, running.url, b"x" * 1000)).status == 201


async def test_official_client_uploads_a_file(
    simulator: RunningSimulator, replicate_client: Callable[[str], Any]
) -> None:
    client = replicate_client(simulator.url)

    def upload_and_run() -> tuple[Any, Any]:
        file = client.files.create(io.BytesIO(PNG), filename="cat.png", content_type="image/png")
        output = client.run(
            "anthropic/claude-4-sonnet", input={"prompt": "what is it?", "image": file.urls["get"]}
        )
        return file, output

    file, output = await asyncio.to_thread(upload_and_run)
    assert file.size == len(PNG) and "".join(output)
    (prediction,) = simulator.sim.predictions.values()
    assert simulator.sim.file(prediction.input["image"]).content == PNG


def test_catalogue_loads_without_the_network() -> None:
    sim = ReplicateSimulator(SimulatorConfig())
    assert all(sim.catalog.model(*ref.split("/")) is not None for ref in RECORDS)
