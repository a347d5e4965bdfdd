"""Text completions (OpenAI's legacy ``/v1/completions``) and the names a response carries, end to end:
the official ``openai`` client -> proxy -> Replicate provider -> simulator, real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import openai
import pytest

import patchwire
from patchwire.proxy import parse_config, serve_app

PROXY_KEY = "sk-text-1234"
REPLICATE_KEY = "r8_text-completions-0123456789"
RAW_PROMPT = "The capital of France is"


def config(api_base: str) -> dict[str, Any]:
    def entry(alias: str, model: str, **params: Any) -> dict[str, Any]:
        return {
            "model_name": alias,
            "litellm_params": {"model": model, "api_key": REPLICATE_KEY, "api_base": api_base, **params},
        }

    return {
        "model_list": [
            entry("llama-3", "replicate/meta/meta-llama-3-8b-instruct", max_tokens=20),
            entry("llama-2-32k", "replicate/togethercomputer/LLaMA-2-7B-32K"),
            # A chat template on the route: text completions must not apply it.
            entry(
                "templated",
                "replicate/meta/meta-llama-3-8b-instruct",
                roles={"user": {"pre_message": "[INST] ", "post_message": " [/INST]"}},
            ),
        ],
        "general_settings": {"master_key": PROXY_KEY},
    }


Start = Callable[..., Any]


@pytest.fixture
async def proxy(start_simulator: Any) -> AsyncIterator[tuple[str, Any]]:
    running = await start_simulator(tokens=6, api_keys={REPLICATE_KEY})
    async with serve_app(parse_config(config(running.url)), host="127.0.0.1", port=0) as url:
        yield url, running.sim


@contextlib.asynccontextmanager
async def client_for(url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=PROXY_KEY, max_retries=0) as client:
        yield client


async def test_openai_client_text_completion_sends_the_prompt_as_written(proxy: tuple[str, Any]) -> None:
    url, sim = proxy
    async with client_for(url) as client:
        response = await client.completions.create(
            model="llama-3", prompt=RAW_PROMPT, max_tokens=5, stop=["\n"]
        )
    (prediction,) = sim.predictions.values()
    # No chat format and no model template: the model sees exactly the prompt.
    assert prediction.input["prompt"] == RAW_PROMPT
    assert prediction.input["prompt_template"] == "{prompt}"
    assert prediction.input["max_tokens"] == 5
    assert prediction.input["stop_sequences"] == "\n"
    assert response.object == "text_completion"
    assert response.model == "llama-3"
    assert response.id == prediction.id
    assert response.choices[0].text == "".join(prediction.chunks)
    assert response.choices[0].index == 0 and response.choices[0].finish_reason in ("stop", "length")
    assert response.usage is not None and response.usage.completion_tokens > 0


async def test_openai_client_text_completion_streamed(proxy: tuple[str, Any]) -> None:
    url, sim = proxy
    async with client_for(url) as client:
        stream = await client.completions.create(
            model="llama-2-32k", prompt=RAW_PROMPT, stream=True, stream_options={"include_usage": True}
        )
        pieces = [piece async for piece in stream]
    (prediction,) = sim.predictions.values()
    assert prediction.input["prompt"] == RAW_PROMPT
    assert all(p.object == "text_completion" and p.model == "llama-2-32k" for p in pieces)
    text = "".join(c.text for p in pieces for c in p.choices)
    assert text == "".join(prediction.chunks)
    assert [c.finish_reason for p in pieces for c in p.choices if c.finish_reason] == ["stop"]
    assert pieces[-1].usage is not None and pieces[-1].usage.completion_tokens > 0
    assert sim.running() == 0


async def test_a_list_of_prompts_gives_one_choice_each_and_echo_repeats_them(
    proxy: tuple[str, Any],
) -> None:
    url, sim = proxy
    async with client_for(url) as client:
        response = await client.completions.create(model="llama-2-32k", prompt=["One", "Two"], echo=True)
    prompts = sorted(p.input["prompt"] for p in sim.predictions.values())
    assert prompts == ["One", "Two"]
    by_prompt = {p.input["prompt"]: "".join(p.chunks) for p in sim.predictions.values()}
    assert [c.index for c in response.choices] == [0, 1]
    assert response.choices[0].text == "One" + by_prompt["One"]
    assert response.choices[1].text == "Two" + by_prompt["Two"]


async def test_a_route_template_is_not_applied_to_a_raw_prompt(proxy: tuple[str, Any]) -> None:
    url, sim = proxy
    async with client_for(url) as client:
        await client.completions.create(model="templated", prompt=RAW_PROMPT)
        await client.chat.completions.create(model="templated", messages=[{"role": "user", "content": "Hi"}])
    prompts = [p.input["prompt"] for p in sim.predictions.values()]
    assert prompts == [RAW_PROMPT, "[INST] Hi [/INST]"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": 42}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": ["x"] * 17}, "prompt"),
        ({}, "prompt"),
        ({"prompt": "x", "messages": [{"role": "user", "content": "x"}]}, "messages"),
        ({"prompt": "x", "echo": "yes"}, "echo"),
        ({"prompt": "x", "suffix": "tail"}, "suffix"),
        ({"prompt": "x", "best_of": 3}, "best_of"),
        ({"prompt": "x", "api_base": "http://evil.example"}, "api_base"),
    ],
)
async def test_bad_text_completion_requests_are_400s_naming_the_field(
    proxy: tuple[str, Any], body: dict[str, Any], param: str
) -> None:
    url, sim = proxy
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{url}/v1/completions",
            json={"model": "llama-3", **body},
            headers={"Authorization": f"Bearer {PROXY_KEY}"},
        ) as resp:
            assert resp.status == 400
            error = (await resp.json())["error"]
    assert error["param"] == param
    assert not sim.predictions


async def test_chat_response_names_the_model_the_client_asked_for(proxy: tuple[str, Any]) -> None:
    url, _ = proxy
    messages: Any = [{"role": "user", "content": "Hi"}]
    async with client_for(url) as client:
        response = await client.chat.completions.create(model="llama-3", messages=messages)
        stream = await client.chat.completions.create(model="llama-3", messages=messages, stream=True)
        chunks = [chunk async for chunk in stream]
        model = await client.models.retrieve("llama-3")
    assert response.model == "llama-3"
    assert chunks and all(chunk.model == "llama-3" for chunk in chunks)
    assert model.id == "llama-3"


async def test_library_text_completion_plain_streamed_and_blocking(start_simulator: Any) -> None:
    running = await start_simulator(tokens=4)
    kw: Any = {"api_base": running.url, "api_key": REPLICATE_KEY}
    model = "replicate/togethercomputer/LLaMA-2-7B-32K"
    response = await patchwire.atext_completion(model, "Once upon a time", **kw)
    assert isinstance(response, patchwire.TextCompletion)
    assert response.choices[0].text and response["choices"][0]["text"] == response.choices[0].text
    stream = await patchwire.atext_completion(model=model, prompt="Once upon a time", stream=True, **kw)
    async with stream:
        text = "".join([c.text async for piece in stream for c in piece.choices])
    assert text == response.choices[0].text
    assert [p.input["prompt"] for p in running.sim.predictions.values()] == ["Once upon a time"] * 2
    with pytest.raises(patchwire.BadRequestError, match="format"):
        await patchwire.atext_completion(model, "x", format="llama3", **kw)
