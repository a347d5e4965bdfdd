"""patchwire.testing keeps its promises: plugins registered for one block only, a recording provider
that shows what reached it, and a fake Replicate that is gone when its block ends."""

from __future__ import annotations

import aiohttp
import pytest
from fakes import Formatter

import patchwire
from patchwire.testing import FakeReplicate, RecordingProvider, fake_replicate, plugin, registered

HI = [{"role": "user", "content": "hi there"}]
LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"


async def test_registered_plugins_are_gone_after_the_block() -> None:
    plugins = patchwire.Plugins(load_entrypoints=False)
    provider = RecordingProvider("temp")
    with registered(plugin(providers=[provider], formatters=[Formatter("plain", ["*"])]), into=plugins):
        async with patchwire.Router(plugins=plugins) as router:
            await router.acompletion("temp/a/b", HI, temperature=0.5)
    assert provider.prompts == ["hi there"]
    assert provider.inputs == [{"prompt": "hi there", "temperature": 0.5}]
    async with patchwire.Router(plugins=plugins) as router:
        with pytest.raises(patchwire.BadRequestError, match="no known provider prefix"):
            await router.acompletion("temp/a/b", HI)


async def test_registered_unregisters_even_when_the_block_fails() -> None:
    plugins = patchwire.Plugins(load_entrypoints=False)
    before = {info.name for info in plugins.infos()}
    with pytest.raises(RuntimeError), registered(plugin(providers=[RecordingProvider()]), into=plugins):
        raise RuntimeError("the test failed")
    assert {info.name for info in plugins.infos()} == before


async def test_the_recording_provider_streams_and_counts_closed_streams() -> None:
    provider = RecordingProvider(reply="one two three")
    with registered(plugin(providers=[provider], formatters=[Formatter("plain", ["*"])])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            stream = await router.acompletion("fake/a/b", HI, stream=True)
            text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    assert text == "one two three" and provider.closed_streams == 1
    assert provider.prompts == ["hi there"]


async def test_the_fake_replicate_stops_with_its_block() -> None:
    async with fake_replicate(tokens=3) as replicate:
        assert isinstance(replicate, FakeReplicate)
        async with patchwire.Router() as router:
            response = await router.acompletion(LLAMA3, HI, api_base=replicate.url, api_key=replicate.api_key)
        assert response.choices[0].message.content
        assert len(replicate.predictions) == 1
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{replicate.url}/v1/predictions")
