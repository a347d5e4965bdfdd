"""Bad input for a model's schema is a 400 naming the problem, through the library and through the proxy,
and nothing is created or uploaded: the only request made is the (cached) read of the model's schema."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from support import TEST_KEY, RunningSimulator, StartSimulator

import patchwire
from patchwire.proxy import parse_config, serve_app

PROXY_KEY = "sk-shaping"
IMAGE = "https://example.com/cat.png"
TEXT_PNG = "data:image/png;base64," + base64.b64encode(b"hello, not an image").decode()
PDF = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4").decode()


def asking(*urls: str, text: str = "What is this?") -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return [{"role": "user", "content": parts}]


HELLO = [{"role": "user", "content": "Hello"}]

# (model, messages, parameters, what the error must say)
BAD: list[tuple[str, list[dict[str, Any]], dict[str, Any], str]] = [
    ("anthropic/claude-3.5-haiku", asking(IMAGE), {}, "replicate/anthropic/claude-3.5-haiku takes no images"),
    (
        "anthropic/claude-4-sonnet",
        asking(IMAGE, IMAGE),
        {},
        "takes one image (input 'image'), and this conversation has 2",
    ),
    ("google/gemini-2.5-flash", asking(TEXT_PNG), {}, "not an image"),
    ("google/gemini-2.5-flash", asking(PDF), {}, "not an image"),
    ("yorickvp/llava-13b", HELLO, {}, "requires an image (one image (input 'image'))"),
    ("anthropic/claude-3.7-sonnet", HELLO, {"max_tokens": 100}, "max_tokens=100 is out of range"),
    ("anthropic/claude-3.7-sonnet", HELLO, {"max_tokens": 100}, ">= 1024"),
    (
        "openai/gpt-5",
        HELLO,
        {"reasoning_effort": "extreme"},
        "reasoning_effort='extreme' is not a reasoning effort",
    ),
    ("deepseek-ai/deepseek-r1", HELLO, {"reasoning_effort": "high"}, "has no reasoning control"),
]
IDS = [
    "image-to-text-model",
    "too-many-images",
    "data-url-not-an-image",
    "data-url-pdf",
    "required-image-missing",
    "token-limit-below-minimum",
    "token-limit-names-bound",
    "unknown-reasoning-value",
    "no-reasoning-control",
]


def nothing_sent(simulator: RunningSimulator) -> None:
    assert not simulator.sim.predictions
    assert not simulator.sim.files
    assert all(r.method == "GET" and r.path.startswith("/v1/models/") for r in simulator.sim.requests)


@pytest.mark.parametrize(("model", "messages", "params", "problem"), BAD, ids=IDS)
async def test_library_refuses(
    simulator: RunningSimulator,
    replicate_key: str,
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    problem: str,
) -> None:
    async with patchwire.Router() as router:
        for stream in (False, True):
            with pytest.raises(patchwire.BadRequestError) as caught:
                await router.acompletion(
                    f"replicate/{model}", messages, api_base=simulator.url, stream=stream, **params
                )
            assert problem in str(caught.value)
    nothing_sent(simulator)


@pytest.fixture
async def proxy(start_simulator: StartSimulator) -> AsyncIterator[tuple[str, RunningSimulator]]:
    running = await start_simulator()
    models = sorted({case[0] for case in BAD})
    config = parse_config(
        {
            "model_list": [
                {
                    "model_name": model,
                    "litellm_params": {
                        "model": f"replicate/{model}",
                        "api_key": TEST_KEY,
                        "api_base": running.url,
                    },
                }
                for model in models
            ],
            "general_settings": {"master_key": PROXY_KEY},
        },
        source="shaping.yaml",
    )
    async with serve_app(config, host="127.0.0.1", port=0) as url:
        yield url, running


async def test_proxy_refuses_with_400(proxy: tuple[str, RunningSimulator]) -> None:
    url, simulator = proxy
    headers = {"Authorization": f"Bearer {PROXY_KEY}"}
    async with aiohttp.ClientSession() as http:
        for model, messages, params, problem in BAD:
            for stream in (False, True):
                body = {"model": model, "messages": messages, "stream": stream, **params}
                async with http.post(f"{url}/v1/chat/completions", json=body, headers=headers) as resp:
                    assert resp.status == 400, (model, await resp.text())
                    error = (await resp.json())["error"]
                    assert problem in error["message"]
                    assert error["type"] == "invalid_request_error"
    nothing_sent(simulator)


async def test_large_data_url_given_as_a_parameter(simulator: RunningSimulator, replicate_key: str) -> None:
    big = "A" * (400 * 1024)
    async with patchwire.Router() as router:
        # Not base64: refused before anything is uploaded or created.
        with pytest.raises(patchwire.BadRequestError, match="not base64"):
            await router.acompletion(
                "replicate/anthropic/claude-4-sonnet",
                HELLO,
                api_base=simulator.url,
                image=f"data:image/png,{big}",
            )
        nothing_sent(simulator)
        # Valid: uploaded like an image part's, with a media type that cannot break the form.
        await router.acompletion(
            "replicate/anthropic/claude-4-sonnet",
            HELLO,
            api_base=simulator.url,
            image=f"data:image/png\r\nX-Evil: 1;base64,{big}",
        )
    (uploaded,) = simulator.sim.files.values()
    assert uploaded.content_type == "application/octet-stream"
    (prediction,) = simulator.sim.predictions.values()
    assert prediction.input["image"] == f"{simulator.url}/v1/files/{uploaded.id}"
