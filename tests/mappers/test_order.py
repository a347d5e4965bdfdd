"""Mapper order is a contract: a third-party mapper with a built-in's order runs after it and wins on
the inputs it sets; one with a lower order takes a parameter before the built-in sees it."""

from __future__ import annotations

from support import RunningSimulator

import patchwire
from patchwire.cli import plugins_report
from patchwire.pipeline import build_pipeline

VICUNA = "replicate/vicuna-13b:6282abe6a492de4145d7bb601023762212f9ddbbe78278bd6771c8b3b2f2a13b"
HELLO = [{"role": "user", "content": "Hello"}]


class CapLength:
    """Same order as the built-in ``openai`` mapper: sees what it built and overrides it."""

    name = "acme_cap_length"
    order = 100

    def map(self, call: patchwire.MapCall) -> None:
        if "max_length" in call.inputs:
            call.inputs["max_length"] = min(call.inputs["max_length"], 64)


class HalfTemperature:
    """A lower order: takes ``temperature`` first, so the built-in never handles it."""

    name = "acme_half_temperature"
    order = 50

    def map(self, call: patchwire.MapCall) -> None:
        if "temperature" in call.params:
            call.inputs["temperature"] = call.params.pop("temperature") / 2


class AcmePlugin:
    @patchwire.hookimpl
    def patchwire_param_mappers(self) -> list[object]:
        return [CapLength(), HalfTemperature()]


async def send(simulator: RunningSimulator, plugins: patchwire.Plugins) -> dict[str, object]:
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion(VICUNA, HELLO, api_base=simulator.url, max_tokens=500, temperature=0.8)
    *_, prediction = simulator.sim.predictions.values()
    return dict(prediction.input)


async def test_third_party_mapper_overrides_the_built_in(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    plain = await send(simulator, patchwire.Plugins())
    assert plain == {"prompt": "Hello", "max_length": 500, "temperature": 0.8}

    plugins = patchwire.Plugins()
    plugins.register(AcmePlugin(), name="acme")
    expected = [
        "acme_half_temperature",
        "openai",
        "acme_cap_length",
        "reasoning",
        "token_aliases",
        "prompt_template",
        "schema_check",
    ]
    assert [m.name for m in build_pipeline(plugins, VICUNA).mappers] == expected
    # `patchwire plugins` shows the order they run in.
    assert [m["name"] for m in plugins_report(plugins)["mappers"]] == expected
    assert await send(simulator, plugins) == {"prompt": "Hello", "max_length": 64, "temperature": 0.4}
