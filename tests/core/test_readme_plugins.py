"""The README's "Writing a plugin" examples, run exactly as written: a formatter, a mapper and a provider
(against a stand-in Acme service on 127.0.0.1), and the plugin test it shows."""

from __future__ import annotations

import re
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import patchwire
from patchwire.cli import plugins_report
from patchwire.testing import RecordingProvider, plugin, registered

README = Path(__file__).resolve().parents[2] / "README.md"
KEY = "acme-key"
HI = [{"role": "user", "content": "Hi"}]


def example(name: str) -> str:
    """The python block that follows ``<!-- plugin example: name -->`` in the README."""
    found = re.search(rf"<!-- plugin example: {name} -->\n```python\n(.*?)\n```", README.read_text(), re.S)
    assert found, f"the README has no plugin example {name!r}"
    return found.group(1)


def module(name: str) -> types.ModuleType:
    """The example, executed as a module of its own (as its package would import it)."""
    mod = types.ModuleType(f"readme_acme_{name}")
    exec(compile(example(name), f"README.md ({name} example)", "exec"), mod.__dict__)
    return mod


@pytest.fixture
async def acme() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for the Acme service the provider example calls: its URL and the bodies it got."""
    received: list[dict[str, Any]] = []

    async def generate(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response({"error": "bad key"}, status=401)
        received.append(await request.json())
        return web.json_response({"id": f"gen-{len(received)}", "text": "Hello from Acme"})

    app = web.Application()
    app.router.add_post("/v1/generate", generate)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", received
    finally:
        await runner.cleanup()


@pytest.fixture
def acme_plugins() -> Any:
    """The three examples as installed plugins, beside the built-in ones."""
    with registered(module("formatter"), module("mapper"), module("provider")) as plugins:
        yield plugins


async def test_the_three_examples_make_one_working_service(
    acme: tuple[str, list[dict[str, Any]]], acme_plugins: patchwire.Plugins
) -> None:
    url, received = acme
    async with patchwire.Router(plugins=acme_plugins) as router:
        response = await router.acompletion("acme/acme-large", HI, api_base=url, api_key=KEY, max_tokens=5)
        stream = await router.acompletion("acme/acme-large", HI, api_base=url, api_key=KEY, stream=True)
        streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    assert response.choices[0].message.content == streamed == "Hello from Acme"
    # The formatter made the prompt, the mapper renamed max_tokens, the provider sent both.
    assert received == [
        {"model": "acme-large", "prompt": "<user>Hi</user><assistant>", "max_output_tokens": 5},
        {"model": "acme-large", "prompt": "<user>Hi</user><assistant>"},
    ]
    report = plugins_report(acme_plugins)
    assert report["problems"] == []  # the examples keep the contract
    assert {"name": "acme_tokens", "order": 100, "providers": ["acme"]} in report["mappers"]


async def test_the_provider_example_fails_with_patchwire_errors(
    acme: tuple[str, list[dict[str, Any]]], acme_plugins: patchwire.Plugins
) -> None:
    url, received = acme
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    async with patchwire.Router(plugins=acme_plugins) as router:
        with pytest.raises(patchwire.AuthenticationError, match="Acme refused the key"):
            await router.acompletion("acme/acme-large", HI, api_base=url, api_key="wrong")
        with pytest.raises(patchwire.AuthenticationError, match="no Acme key"):
            await router.acompletion("acme/acme-large", HI, api_base=url)
        with pytest.raises(patchwire.BadRequestError, match="Acme models look like"):
            await router.acompletion("acme/a/b", HI, api_base=url, api_key=KEY)
        with pytest.raises(patchwire.BadRequestError, match="the 'acme-chat' prompt format is text-only"):
            await router.acompletion("acme/acme-large", [{"role": "user", "content": [image]}], api_key=KEY)
    assert received == []


async def test_the_mapper_example_serves_acme_only() -> None:
    replicate = RecordingProvider("replicate")  # stands in for Replicate: the built-in mappers run
    with registered(module("mapper"), plugin(providers=[replicate])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            await router.acompletion("replicate/meta/meta-llama-3-8b-instruct", HI, max_tokens=5)
    (inputs,) = replicate.inputs
    assert "max_output_tokens" not in inputs and inputs["max_tokens"] == 5


async def test_the_testing_example_runs() -> None:
    namespace: dict[str, Any] = {"AcmeChat": module("formatter").AcmeChat}
    exec(compile(example("test"), "README.md (test example)", "exec"), namespace)
    await namespace["test_acme_chat_format"]()
