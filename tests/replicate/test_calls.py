"""The Replicate provider end to end against the simulator on 127.0.0.1: every model-reference form,
every key source, one-round-trip creates, polling, errors and usage."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from support import TEST_KEY, StartSimulator

import patchwire
from patchwire import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    ProviderError,
)

MSGS = [{"role": "user", "content": "Hello, how are you?"}]
LLAMA2_HASH = "2796ee9483c3fd7aa2e171d38f4ca12251a30609463dcfd4cd76703f22e96cdf"
VICUNA_HASH = "6282abe6a492de4145d7bb601023762212f9ddbbe78278bd6771c8b3b2f2a13b"


def router_with(prefer_wait: int) -> patchwire.Router:
    return patchwire.Router(provider_options={"replicate": {"prefer_wait": prefer_wait}})


def only_prediction(sim: Any) -> Any:
    (prediction,) = sim.predictions.values()
    return prediction


def creates(sim: Any) -> list[Any]:
    return [r for r in sim.requests if r.method == "POST" and r.path.endswith("/predictions")]


@pytest.mark.parametrize(
    ("model", "path", "version", "sim_model"),
    [
        (
            "replicate/meta/meta-llama-3-8b-instruct",
            "/v1/models/meta/meta-llama-3-8b-instruct/predictions",
            None,
            "meta/meta-llama-3-8b-instruct",
        ),
        (
            f"replicate/meta/llama-2-70b-chat:{LLAMA2_HASH}",
            "/v1/predictions",
            LLAMA2_HASH,
            "meta/llama-2-70b-chat",
        ),
        (f"replicate/{VICUNA_HASH}", "/v1/predictions", VICUNA_HASH, "replicate/vicuna-13b"),
        # LiteLLM's short ids: "name:hash" is created by version.
        (
            f"replicate/llama-2-70b-chat:{LLAMA2_HASH}",
            "/v1/predictions",
            LLAMA2_HASH,
            "meta/llama-2-70b-chat",
        ),
        (f"replicate/vicuna-13b:{VICUNA_HASH}", "/v1/predictions", VICUNA_HASH, "replicate/vicuna-13b"),
        (
            "replicate/a16z-infra/llama-2-13b-chat:2a7f981751ec7fdf87b5b91ad4db53683a98082e9ff7bfd12c8cd5ea85980a52",
            "/v1/predictions",
            "2a7f981751ec7fdf87b5b91ad4db53683a98082e9ff7bfd12c8cd5ea85980a52",
            "a16z-infra/llama-2-13b-chat",
        ),
    ],
)
async def test_each_reference_form_creates_where_replicate_expects(
    start_simulator: StartSimulator,
    router: patchwire.Router,
    model: str,
    path: str,
    version: str | None,
    sim_model: str,
) -> None:
    running = await start_simulator(latency=0.0, tokens=8)
    response = await router.acompletion(model, MSGS, api_key=TEST_KEY, api_base=running.url)
    prediction = only_prediction(running.sim)
    (create,) = creates(running.sim)
    assert create.path == path
    assert create.body.get("version") == version
    assert create.body["input"]["prompt"] == prediction.input["prompt"]
    assert "Hello, how are you?" in prediction.input["prompt"]
    assert prediction.model == sim_model
    assert response.id == prediction.id
    assert response.model == model
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].message.content == "".join(prediction.chunks)


async def test_single_segment_version_id(start_simulator: StartSimulator, router: patchwire.Router) -> None:
    running = await start_simulator(latency=0.0, tokens=5)
    running.sim.add_model("acme", "custom-llm", versions=("custom-llm-version-id",))
    response = await router.acompletion(
        "replicate/custom-llm-version-id", MSGS, api_key=TEST_KEY, api_base=running.url
    )
    prediction = only_prediction(running.sim)
    assert (prediction.model, prediction.version) == ("acme/custom-llm", "custom-llm-version-id")
    assert response.choices[0].message.content == "".join(prediction.chunks)


async def test_deployment(start_simulator: StartSimulator, router: patchwire.Router) -> None:
    running = await start_simulator(latency=0.0, tokens=5)
    response = await router.acompletion(
        "replicate/deployments/ishaan-jaff/ishaan-mistral", MSGS, api_key=TEST_KEY, api_base=running.url
    )
    prediction = only_prediction(running.sim)
    assert creates(running.sim)[0].path == "/v1/deployments/ishaan-jaff/ishaan-mistral/predictions"
    assert prediction.deployment == "ishaan-jaff/ishaan-mistral"
    assert response.choices[0].message.content == "".join(prediction.chunks)


# -- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["argument", "REPLICATE_API_KEY", "REPLICATE_API_TOKEN"])
async def test_each_key_source(
    start_simulator: StartSimulator, router: patchwire.Router, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    running = await start_simulator(api_keys={"r8_the-right-one"})
    kwargs: dict[str, Any] = {}
    if source == "argument":
        kwargs["api_key"] = "r8_the-right-one"
        monkeypatch.setenv("REPLICATE_API_KEY", "r8_wrong")
    else:
        monkeypatch.setenv(source, "r8_the-right-one")
        if source == "REPLICATE_API_TOKEN":
            monkeypatch.setenv("REPLICATE_API_KEY", "")  # empty counts as unset
    response = await router.acompletion(
        "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_base=running.url, **kwargs
    )
    assert response.choices[0].message.content
    assert running.sim.stats.unauthenticated == 0


async def test_api_key_variable_wins_over_token_variable(
    start_simulator: StartSimulator, router: patchwire.Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = await start_simulator(api_keys={"r8_key"})
    monkeypatch.setenv("REPLICATE_API_KEY", "r8_key")
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_token")
    await router.acompletion("replicate/meta/meta-llama-3-8b-instruct", MSGS, api_base=running.url)
    assert running.sim.stats.unauthenticated == 0


async def test_a_key_changed_in_the_environment_is_the_next_calls(
    start_simulator: StartSimulator, router: patchwire.Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a call needs is worked out once per model, base and key: a new key is a new one.
    running = await start_simulator(api_keys={"r8_new"})
    monkeypatch.setenv("REPLICATE_API_KEY", "r8_old")
    with pytest.raises(AuthenticationError):
        await router.acompletion("replicate/meta/meta-llama-3-8b-instruct", MSGS, api_base=running.url)
    monkeypatch.setenv("REPLICATE_API_KEY", "r8_new")
    response = await router.acompletion("replicate/meta/meta-llama-3-8b-instruct", MSGS, api_base=running.url)
    assert response.choices[0].message.content
    assert running.sim.stats.created == 1


async def test_a_base_changed_in_the_environment_is_the_next_calls(
    start_simulator: StartSimulator,
    router: patchwire.Router,
    monkeypatch: pytest.MonkeyPatch,
    replicate_key: str,
) -> None:
    first, second = await start_simulator(), await start_simulator()
    for running in (first, second):
        monkeypatch.setenv("REPLICATE_API_BASE", running.url)
        await router.acompletion("replicate/meta/meta-llama-3-8b-instruct", MSGS)
    assert (first.sim.stats.created, second.sim.stats.created) == (1, 1)


async def test_a_malformed_key_is_refused_on_every_call(simulator: Any, router: patchwire.Router) -> None:
    for _ in range(2):
        with pytest.raises(AuthenticationError, match="line break"):
            await router.acompletion(
                "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key="r8_bad\nkey", api_base=simulator.url
            )
    assert simulator.sim.stats.requests_total == 0


async def test_missing_key_fails_before_any_request(simulator: Any, router: patchwire.Router) -> None:
    with pytest.raises(AuthenticationError) as info:
        await router.acompletion("replicate/meta/meta-llama-3-8b-instruct", MSGS, api_base=simulator.url)
    assert "REPLICATE_API_KEY" in str(info.value) and "REPLICATE_API_TOKEN" in str(info.value)
    assert simulator.sim.stats.requests_total == 0


async def test_refused_key_is_an_authentication_error_without_the_key(
    start_simulator: StartSimulator, router: patchwire.Router, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_simulator(api_keys={"r8_good"})
    caplog.set_level(logging.DEBUG, logger="patchwire")
    with pytest.raises(AuthenticationError) as info:
        await router.acompletion(
            "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key="r8_secret-bad-key", api_base=running.url
        )
    assert info.value.status_code == 401
    assert "r8_secret-bad-key" not in f"{info.value} {info.value!r}"
    assert "r8_secret-bad-key" not in caplog.text
    assert running.sim.stats.created == 0


async def test_key_never_reaches_the_logs(
    simulator: Any, router: patchwire.Router, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="patchwire")
    for stream in (False, True):
        result = await router.acompletion(
            "replicate/meta/meta-llama-3-8b-instruct",
            MSGS,
            api_key=TEST_KEY,
            api_base=simulator.url,
            stream=stream,
        )
        if stream:
            async for _ in result:  # type: ignore[union-attr]
                pass
    assert "prediction" in caplog.text  # debug logging is on and says something useful
    assert TEST_KEY not in caplog.text


# -- waiting ------------------------------------------------------------------------------------


async def test_fast_model_completes_in_one_create_request(simulator: Any, router: patchwire.Router) -> None:
    await router.acompletion(
        "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key=TEST_KEY, api_base=simulator.url
    )
    stats = simulator.sim.stats
    assert stats.by_route["create"] == 1
    assert stats.by_route["get"] == 0
    (create,) = creates(simulator.sim)
    assert create.headers["Prefer"] in {f"wait={n}" for n in range(1, 61)}
    assert create.headers["Cancel-After"].endswith("s")
    assert create.body == {"input": only_prediction(simulator.sim).input}


async def test_processing_answer_to_prefer_wait_is_followed_to_the_end(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    # 2024's Replicate answered Prefer: wait with status "processing": not final.
    running = await start_simulator(sync_status="processing", tokens=8)
    response = await router.acompletion(
        "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key=TEST_KEY, api_base=running.url
    )
    assert running.sim.stats.by_route["get"] >= 1
    assert response.choices[0].message.content == "".join(only_prediction(running.sim).chunks)
    assert response.usage is not None and response.usage.completion_tokens == 8


async def test_slow_prediction_is_polled_to_completion(start_simulator: StartSimulator) -> None:
    running = await start_simulator(latency=1.5, tokens=6, token_interval=0.05)
    async with router_with(prefer_wait=1) as router:
        response = await router.acompletion(
            "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key=TEST_KEY, api_base=running.url
        )
    prediction = only_prediction(running.sim)
    assert running.sim.stats.by_route["get"] >= 2
    assert running.sim.stats.created == 1
    assert response.choices[0].message.content == "".join(prediction.chunks)
    assert all(
        r.path == f"/v1/predictions/{prediction.id}"
        for r in running.sim.requests
        if r.method == "GET" and r.path.startswith("/v1/predictions")
    )


@pytest.mark.slow
async def test_thirty_second_cold_boot_completes(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    # LiteLLM gives up after about 25 s; a cold boot takes minutes, and only timeout= bounds a call.
    running = await start_simulator(cold_boot=30.0, latency=0.0, tokens=8)
    started = time.monotonic()
    response = await router.acompletion(
        "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key=TEST_KEY, api_base=running.url
    )
    assert time.monotonic() - started >= 30.0  # it really waited out the boot
    assert response.choices[0].message.content == "".join(only_prediction(running.sim).chunks)
    assert running.sim.stats.created == 1


# -- results ------------------------------------------------------------------------------------


async def test_usage_comes_from_the_prediction_metrics(simulator: Any, router: patchwire.Router) -> None:
    response = await router.acompletion(
        "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key=TEST_KEY, api_base=simulator.url
    )
    metrics = only_prediction(simulator.sim).metrics()
    assert response.usage == patchwire.Usage(
        prompt_tokens=metrics["input_token_count"],
        completion_tokens=metrics["output_token_count"],
        total_tokens=metrics["input_token_count"] + metrics["output_token_count"],
    )
    assert response.choices[0].finish_reason == "stop"


async def test_finish_reason_is_length_when_the_maximum_was_reached(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    running = await start_simulator(tokens=16)
    response = await router.acompletion(
        "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key=TEST_KEY, api_base=running.url, max_tokens=4
    )
    assert response.choices[0].finish_reason == "length"
    assert response["choices"][0]["message"]["content"] == "".join(only_prediction(running.sim).chunks)


# -- errors -------------------------------------------------------------------------------------


async def test_unknown_model_is_not_found(simulator: Any, router: patchwire.Router) -> None:
    with pytest.raises(NotFoundError) as info:
        await router.acompletion(
            "replicate/nobody/no-such-model", MSGS, api_key=TEST_KEY, api_base=simulator.url
        )
    assert "nobody/no-such-model" in str(info.value)
    assert info.value.status_code == 404


async def test_invalid_input_is_a_bad_request_with_replicates_detail(
    simulator: Any, router: patchwire.Router
) -> None:
    # A bare version has no schema to check against beforehand: Replicate's 422 decides.
    with pytest.raises(BadRequestError) as info:
        await router.acompletion(
            f"replicate/{VICUNA_HASH}", MSGS, api_key=TEST_KEY, api_base=simulator.url, repetition_penalty=99
        )
    assert "repetition_penalty" in str(info.value)
    assert info.value.status_code == 400
    assert simulator.sim.stats.created == 0


async def test_failed_prediction_is_a_provider_error_with_its_error_and_id(
    simulator: Any, router: patchwire.Router
) -> None:
    simulator.sim.inject_fault("fail")
    with pytest.raises(ProviderError) as info:
        await router.acompletion(
            "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key=TEST_KEY, api_base=simulator.url
        )
    prediction = only_prediction(simulator.sim)
    assert info.value.prediction_id == prediction.id
    assert prediction.id in str(info.value)
    assert prediction.error in str(info.value)


async def test_prediction_canceled_elsewhere_is_a_provider_error(start_simulator: StartSimulator) -> None:
    running = await start_simulator(latency=0.0, tokens=200, token_interval=0.05)
    async with router_with(prefer_wait=1) as router:
        import asyncio

        task = asyncio.ensure_future(
            router.acompletion(
                "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key=TEST_KEY, api_base=running.url
            )
        )
        async with asyncio.timeout(10):
            while running.sim.stats.by_route["get"] == 0:
                await asyncio.sleep(0.01)
        only_prediction(running.sim).cancel(time.monotonic())  # someone cancels it on the website
        with pytest.raises(ProviderError) as info:
            await task
    assert "canceled" in str(info.value)


async def test_prefer_wait_zero_creates_without_waiting_and_polls(start_simulator: StartSimulator) -> None:
    running = await start_simulator(latency=0.05, tokens=6)
    async with router_with(prefer_wait=0) as router:
        response = await router.acompletion(
            "replicate/meta/meta-llama-3-8b-instruct", MSGS, api_key=TEST_KEY, api_base=running.url
        )
    (create,) = creates(running.sim)
    assert "Prefer" not in create.headers
    assert running.sim.stats.by_route["get"] >= 1
    assert response.choices[0].message.content == "".join(only_prediction(running.sim).chunks)
