"""The proxy end to end: LiteLLM's config files, the official OpenAI client, the Replicate simulator.

Everything is real HTTP on 127.0.0.1: client -> proxy -> Replicate provider -> simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
import yaml
from support import EARTH, EARTH_LLAMA3_PROMPT, wait_for

from patchwire.proxy import load_config, serve_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROXY_KEY = "sk-1234"
REPLICATE_KEY = "r8_proxy-e2e-0123456789"
# LiteLLM's mistral-7b template: bos, initial value, each role's pre/post message, final value.
LITELLM_MISTRAL_PROMPT = (
    "<s>\n<|im_start|>system\nBe a good human!<|im_end|>"
    "<|im_start|>user\nWhat do you know about earth?<|im_end|>\n"
)


def example_pointed_at(example: str, api_base: str, directory: Path) -> Path:
    """The example config with every model's api_base set to the simulator."""
    data = yaml.safe_load((EXAMPLES / example).read_text())
    for entry in data["model_list"]:
        entry["litellm_params"]["api_base"] = api_base
    path = directory / example
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_KEY", REPLICATE_KEY)
    monkeypatch.setenv("PROXY_KEY", PROXY_KEY)


Start = Callable[..., Any]


@pytest.fixture
async def start_proxy(keys: None, tmp_path: Path) -> AsyncIterator[Start]:
    """``url = await start_proxy("llama3-proxy.yaml", running_simulator)``."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(example: str, running: Any) -> str:
            config = load_config(example_pointed_at(example, running.url, tmp_path))
            return await stack.enter_async_context(serve_app(config, host="127.0.0.1", port=0))

        yield start


@pytest.fixture
async def sim(start_simulator: Any) -> Any:
    # Only the key from the config's environment variable is accepted upstream.
    return await start_simulator(tokens=8, api_keys={REPLICATE_KEY})


def client_for(url: str, key: str = PROXY_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


async def test_litellm_request_to_llama3(start_proxy: Start, sim: Any) -> None:
    url = await start_proxy("llama3-proxy.yaml", sim)
    async with client_for(url) as client:
        response = await client.chat.completions.create(model="llama-3", messages=EARTH)
    (prediction,) = sim.sim.predictions.values()
    assert prediction.model == "meta/meta-llama-3-8b-instruct"
    assert prediction.input["prompt"] == EARTH_LLAMA3_PROMPT
    assert prediction.input["max_tokens"] == 20 and prediction.input["temperature"] == 0.5
    assert prediction.unknown_inputs == ()
    assert response.id == prediction.id
    assert response.choices[0].message.content == "".join(prediction.chunks)
    assert response.usage is not None and response.usage.completion_tokens > 0


async def test_litellm_request_to_llama3_streamed(start_proxy: Start, sim: Any) -> None:
    url = await start_proxy("llama3-proxy.yaml", sim)
    async with client_for(url) as client:
        stream = await client.chat.completions.create(model="llama-3", messages=EARTH, stream=True)
        chunks = [chunk async for chunk in stream]
    (prediction,) = sim.sim.predictions.values()
    assert prediction.input["prompt"] == EARTH_LLAMA3_PROMPT
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "".join(prediction.chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert sim.sim.running() == 0


async def test_streamed_usage_for_openai_clients_that_ask_for_it(start_proxy: Start, sim: Any) -> None:
    url = await start_proxy("llama3-proxy.yaml", sim)
    async with client_for(url) as client:
        stream = await client.chat.completions.create(
            model="llama-3", messages=EARTH, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    (prediction,) = sim.sim.predictions.values()
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == len(prediction.chunks)
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


async def test_litellm_mistral_template_and_replicate_params(start_proxy: Start, sim: Any) -> None:
    url = await start_proxy("mistral-template-proxy.yaml", sim)
    async with client_for(url) as client:
        response = await client.chat.completions.create(model="mistral-7b", messages=EARTH)
    (prediction,) = sim.sim.predictions.values()
    assert prediction.model == "mistralai/Mistral-7B-Instruct-v0.1"
    assert prediction.input["prompt"] == LITELLM_MISTRAL_PROMPT
    # min_tokens and top_k pass through to the model (min_tokens under this model's own name for it).
    assert prediction.input["top_k"] == 20
    assert prediction.input["min_new_tokens"] == 2
    assert prediction.input["max_new_tokens"] == 4096
    assert prediction.unknown_inputs == ()
    assert response.choices[0].message.content == "".join(prediction.chunks)


async def test_models_wrong_key_and_unknown_model(start_proxy: Start, sim: Any) -> None:
    url = await start_proxy("llama3-proxy.yaml", sim)
    async with client_for(url) as client:
        assert [m.id async for m in client.models.list()] == ["llama-3"]
        with pytest.raises(openai.NotFoundError) as info:
            await client.chat.completions.create(model="llama-2", messages=EARTH)
        assert "available models: llama-3" in info.value.message
    async with client_for(url, key="sk-not-it") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="llama-3", messages=EARTH)
        with pytest.raises(openai.AuthenticationError):
            await client.models.list()
    assert sim.sim.predictions == {}


async def test_litellm_curl_request_as_raw_http(start_proxy: Start, sim: Any) -> None:
    url = await start_proxy("llama3-proxy.yaml", sim)
    # LiteLLM's curl body, with its trailing comma removed (that comma makes it invalid JSON).
    body = """{
"model": "llama-3",
"messages": [
{
"role": "system",
"content": "Be a good human!"
},
{
"role": "user",
"content": "What do you know about earth?"
}
]
}"""
    headers = {"Authorization": f"Bearer {PROXY_KEY}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/chat/completions", data=body, headers=headers) as resp:
            assert resp.status == 200
            answer = await resp.json()
        async with http.post(f"{url}/chat/completions", data=body[:-1] + ",}", headers=headers) as resp:
            assert resp.status == 400
            assert "not valid JSON" in (await resp.json())["error"]["message"]
    (prediction,) = sim.sim.predictions.values()
    assert prediction.input["prompt"] == EARTH_LLAMA3_PROMPT
    assert answer["choices"][0]["message"]["content"] == "".join(prediction.chunks)


async def test_client_gone_mid_stream_cancels_the_prediction(
    start_proxy: Start, start_simulator: Any
) -> None:
    slow = await start_simulator(tokens=500, token_interval=0.02)
    url = await start_proxy("llama3-proxy.yaml", slow)
    body = {"model": "llama-3", "messages": EARTH, "stream": True, "max_tokens": 500}
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"}
        )
        assert resp.status == 200
        await resp.content.readuntil(b"\n\n")
        assert slow.sim.running() == 1
        resp.close()
    await wait_for(lambda: slow.sim.running() == 0, timeout=5.0)
    (prediction,) = slow.sim.predictions.values()
    assert prediction.status() == "canceled"


async def test_client_gone_mid_request_cancels_the_prediction(
    start_proxy: Start, start_simulator: Any
) -> None:
    slow = await start_simulator(latency=60)
    url = await start_proxy("llama3-proxy.yaml", slow)
    body = {"model": "llama-3", "messages": EARTH}

    async def call() -> None:
        async with aiohttp.ClientSession() as http:
            await http.post(
                f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"}
            )

    task = asyncio.create_task(call())
    await wait_for(lambda: slow.sim.running() == 1, timeout=5.0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # The create is cut 1 s after the client left, and its prediction found in the list and cancelled.
    await wait_for(lambda: slow.sim.running() == 0, timeout=20)
    (prediction,) = slow.sim.predictions.values()
    assert prediction.status() == "canceled"


async def test_serve_command_starts_answers_and_stops_on_sigterm(
    sim: Any, tmp_path: Path, keys: None
) -> None:
    config = example_pointed_at("llama3-proxy.yaml", sim.url, tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "patchwire", "serve", "--config", str(config), "--port", "0",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("patchwire proxy listening on http://127.0.0.1:"), line
        url = line.split()[4]
        async with client_for(url) as client:
            response = await client.chat.completions.create(model="llama-3", messages=EARTH)
        assert response.choices[0].message.content
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert proc.stderr is not None
        log = (await proc.stderr.read()).decode()
        assert "POST /v1/chat/completions 200 model=llama-3" in log
        assert PROXY_KEY not in log and REPLICATE_KEY not in log
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_serve_command_reports_config_errors(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "model_list:\n  - model_name: llama-3\n    litellm_params:\n"
        "      model: replicate/meta/meta-llama-3-8b-instruct\n      api_key: os.environ/NOT_SET_PW\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "patchwire", "serve", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"{config}: model_list[0] (llama-3): field 'litellm_params.api_key'" in done.stderr
    assert "NOT_SET_PW" in done.stderr


ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 3, 1.5, 1e300, -1e300, 2**63, "", "x", "llama-3", [], [1], ["a", 2], {},
    {"a": 1}, [{"role": "user"}], [{"role": "user", "content": None}], {"role": "user", "content": "hi"},
    [[[]]], "\u0000\udcff",
]  # fmt: skip
FIELDS = [
    "model", "messages", "stream", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
    "n", "seed", "tools", "tool_choice", "timeout", "drop_params", "format", "stream_options", "top_k",
    "min_tokens", "user", "logit_bias", "response_format", "presence_penalty", "frequency_penalty",
    "prompt_template", "system_prompt", "unheard_of", "self", "prompt", "api_base", "api_key", "store",
]  # fmt: skip


async def test_nothing_a_client_sends_is_a_500(start_proxy: Start, sim: Any) -> None:
    """Hundreds of mangled requests (seeded, so a failure reproduces): each gets 200 or an OpenAI-shaped
    4xx/408 refusal, never a 500, and the proxy keeps serving."""
    rng = random.Random(20240601)
    url = await start_proxy("llama3-proxy.yaml", sim)
    headers = {"Authorization": f"Bearer {PROXY_KEY}", "Content-Type": "application/json"}
    statuses: set[int] = set()
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            body: dict[str, Any] = {"model": "llama-3", "messages": [{"role": "user", "content": "hi"}]}
            for field in rng.sample(FIELDS, rng.randint(1, 3)):
                body[field] = rng.choice(ODD_VALUES)
            if rng.random() < 0.2:
                body["messages"] = [{"role": "user", "content": rng.choice(ODD_VALUES)}]
            raw = json.dumps(body).encode()  # stdlib: it escapes lone surrogates
            async with http.post(f"{url}/v1/chat/completions", data=raw, headers=headers) as resp:
                text = await resp.text(errors="replace")
                statuses.add(resp.status)
                assert resp.status != 500, (body, text)
                if resp.status != 200:
                    error = json.loads(text)["error"]
                    assert isinstance(error["message"], str) and error["message"], (body, text)
        async with client_for(url) as client:
            response = await client.chat.completions.create(model="llama-3", messages=EARTH)
        assert response.choices[0].message.content
    assert {200, 400} <= statuses, statuses
