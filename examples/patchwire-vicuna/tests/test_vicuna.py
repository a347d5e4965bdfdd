"""The vicuna plugin's tests, written with ``patchwire.testing`` as a plugin author would write them.

They import the plugin from ``src/`` when it is not installed (a fresh checkout of patchwire runs them
with the rest of its tests), and register it for each test only.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import patchwire
from patchwire.testing import FakeReplicate, RecordingProvider, fake_replicate, plugin, registered

try:
    import patchwire_vicuna
except ImportError:  # not installed: import it from its sources beside this folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    patchwire_vicuna = importlib.import_module("patchwire_vicuna")

PREAMBLE = patchwire_vicuna.PREAMBLE
VICUNA = "replicate/vicuna-13b:6282abe6a492de4145d7bb601023762212f9ddbbe78278bd6771c8b3b2f2a13b"
CHAT = [
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "How are you?"},
]


async def test_the_format_is_fastchats_vicuna_v1_1() -> None:
    provider = RecordingProvider()  # serves "fake/...": shows the prompt, no network
    with registered(patchwire_vicuna, plugin(providers=[provider])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            await router.acompletion("fake/lmsys/vicuna-13b", CHAT)
            await router.acompletion(
                "fake/lmsys/vicuna-13b", [{"role": "system", "content": "Be brief."}, *CHAT[:1]]
            )
    assert provider.prompts == [
        f"{PREAMBLE} USER: Hello! ASSISTANT: Hi!</s>USER: How are you? ASSISTANT:",
        "Be brief. USER: Hello! ASSISTANT:",
    ]


async def test_models_it_does_not_claim_keep_their_own_format() -> None:
    provider = RecordingProvider()
    with registered(patchwire_vicuna, plugin(providers=[provider])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            await router.acompletion("fake/meta/meta-llama-3-8b-instruct", CHAT[:1])
    (prompt,) = provider.prompts
    assert prompt is not None and "<|start_header_id|>user<|end_header_id|>" in prompt


async def test_an_image_part_is_refused_by_name() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    provider = RecordingProvider()
    with registered(patchwire_vicuna, plugin(providers=[provider])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            with pytest.raises(patchwire.BadRequestError, match="the 'vicuna' prompt format is text-only"):
                await router.acompletion("fake/lmsys/vicuna-13b", [{"role": "user", "content": [image]}])
    assert provider.calls == []


async def test_the_prompt_reaches_replicate_as_rendered() -> None:
    with registered(patchwire_vicuna) as plugins:
        async with fake_replicate() as replicate, patchwire.Router(plugins=plugins) as router:
            await router.acompletion(
                VICUNA, CHAT[:1], api_base=replicate.url, api_key=replicate.api_key, max_tokens=40
            )
    (prediction,) = replicate.predictions
    assert prediction.input == {"prompt": f"{PREAMBLE} USER: Hello! ASSISTANT:", "max_length": 40}


async def test_with_the_pytest_fixture(fake_replicate_server: FakeReplicate) -> None:
    with registered(patchwire_vicuna) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            response = await router.acompletion(
                VICUNA,
                CHAT[:1],
                api_base=fake_replicate_server.url,
                api_key=fake_replicate_server.api_key,
            )
    assert response.choices[0].message.content
    (prediction,) = fake_replicate_server.predictions
    assert prediction.input["prompt"].endswith("USER: Hello! ASSISTANT:")
