"""LiteLLM's unpinned model strings for models that are not official on Replicate.

``POST /v1/models/{owner}/{name}/predictions`` answers 404 for them (as real Replicate does): nothing was
created, so the provider looks up the model's latest version once per API base and creates by version.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from support import TEST_KEY, StartSimulator

import patchwire
from patchwire import NotFoundError
from patchwire.providers.replicate.simulator.catalog import synthetic_id

MSGS = [{"role": "user", "content": "What do you know about earth?"}]
LITELLM_UNPINNED = {
    "replicate/mistralai/Mistral-7B-Instruct-v0.1": (
        "83b6a56e7c828e667f21fd596c338fd4f0039b46bcfa18d973e8e70e455fda70"
    ),
    "replicate/togethercomputer/LLaMA-2-7B-32K": synthetic_id("togethercomputer/LLaMA-2-7B-32K"),
}


def creates(sim: Any) -> list[str]:
    return [r.path for r in sim.requests if r.method == "POST" and r.path.endswith("predictions")]


@pytest.mark.parametrize("model", sorted(LITELLM_UNPINNED))
@pytest.mark.parametrize("stream", [False, True])
async def test_litellm_unpinned_model_runs_its_latest_version(
    start_simulator: StartSimulator, router: patchwire.Router, model: str, stream: bool
) -> None:
    running = await start_simulator(tokens=6)
    slug = model.removeprefix("replicate/")
    for _ in range(2):
        result = await router.acompletion(
            model, MSGS, api_key=TEST_KEY, api_base=running.url, stream=stream, max_tokens=6
        )
        if stream:
            text = "".join([c.choices[0].delta.content or "" async for c in result])
        else:
            text = result.choices[0].message.content
        assert text
    predictions = list(running.sim.predictions.values())
    assert len(predictions) == 2
    assert {p.version for p in predictions} == {LITELLM_UNPINNED[model]}
    assert all(text.startswith("".join(p.chunks)[:1]) for p in predictions)
    # One refused create by name, then (the version remembered) only creates by version.
    assert creates(running.sim) == [f"/v1/models/{slug}/predictions", "/v1/predictions", "/v1/predictions"]
    assert running.sim.running() == 0


async def test_output_of_a_fallback_create_is_the_predictions_output(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=5)
    model = "replicate/mistralai/Mistral-7B-Instruct-v0.1"
    response = await router.acompletion(model, MSGS, api_key=TEST_KEY, api_base=running.url)
    (prediction,) = running.sim.predictions.values()
    assert response.id == prediction.id
    assert response.choices[0].message.content == "".join(prediction.chunks)


async def test_remembered_version_is_per_api_base(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    first = await start_simulator()
    second = await start_simulator()
    model = "replicate/togethercomputer/LLaMA-2-7B-32K"
    for running in (first, second):
        await router.acompletion(model, MSGS, api_key=TEST_KEY, api_base=running.url)
        assert creates(running.sim)[0] == "/v1/models/togethercomputer/LLaMA-2-7B-32K/predictions"


async def test_model_without_any_version_says_to_pin_one(router: patchwire.Router) -> None:
    # The simulator gives every model a version, so a two-route server plays a model without one.
    seen: list[str] = []

    async def refuse_by_name(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"detail": "not an official model", "status": 404}, status=404)

    async def model_without_version(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"owner": "acme", "name": "draft-llm", "latest_version": None})

    app = web.Application()
    app.router.add_post("/v1/models/acme/draft-llm/predictions", refuse_by_name)
    app.router.add_get("/v1/models/acme/draft-llm", model_without_version)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        with pytest.raises(NotFoundError) as info:
            await router.acompletion(
                "replicate/acme/draft-llm", MSGS, api_key=TEST_KEY, api_base=f"http://127.0.0.1:{port}"
            )
    finally:
        await runner.cleanup()
    message = str(info.value)
    assert "replicate/acme/draft-llm:<version>" in message and "not an official model" in message
    assert seen.count("/v1/models/acme/draft-llm/predictions") == 1  # never retried by name


async def test_unknown_model_is_still_not_found_and_nothing_is_created(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator()
    with pytest.raises(NotFoundError) as info:
        await router.acompletion("replicate/nobody/nothing", MSGS, api_key=TEST_KEY, api_base=running.url)
    assert "nobody/nothing" in str(info.value)
    assert creates(running.sim) == ["/v1/models/nobody/nothing/predictions"]
    assert running.sim.stats.created == 0
