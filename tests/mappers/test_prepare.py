"""``prepare``: a mapper (or shaper) decides once per model and schema what it does on that model's calls."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import patchwire
from patchwire import InputSchema, InputSpec, ModelFacts
from patchwire.contract import problems_of
from patchwire.pipeline import build_pipeline
from patchwire.testing import RecordingProvider, plugin, registered
from patchwire.types import ChatRequest, Message

HELLO = [{"role": "user", "content": "Hello"}]


class CountingMapper:
    """Sends ``tier`` = the model's name, worked out once per model; ``map`` must never run."""

    name = "tier"
    order = 500

    def __init__(self) -> None:
        self.prepared: list[str] = []

    def map(self, call: patchwire.MapCall) -> None:
        raise AssertionError("map ran although prepare was given")

    def prepare(self, model: ModelFacts) -> Callable[[patchwire.MapCall], None] | None:
        self.prepared.append(model.ref.raw)
        if model.ref.raw.endswith("plain"):
            return None  # nothing to do for this model: skipped
        tier = model.ref.raw.upper()

        def send_tier(call: patchwire.MapCall) -> None:
            call.inputs["tier"] = tier

        return send_tier


async def test_prepare_runs_once_per_model_and_its_function_on_every_call() -> None:
    mapper, provider = CountingMapper(), RecordingProvider("fake")
    with registered(plugin(providers=[provider], mappers=[mapper])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            for _ in range(3):
                await router.acompletion("fake/acme/chat", HELLO)
            await router.acompletion("fake/acme/plain", HELLO)
    assert mapper.prepared == ["acme/chat", "acme/plain"]
    assert [inputs.get("tier") for inputs in provider.inputs] == ["ACME/CHAT"] * 3 + [None]


async def test_a_prepare_that_returns_no_function_is_a_plugin_error_naming_the_plugin() -> None:
    class Broken:
        name, order = "broken", 500

        def map(self, call: patchwire.MapCall) -> None: ...

        def prepare(self, model: ModelFacts) -> object:
            return "not a function"

    with registered(plugin(providers=[RecordingProvider("fake")], mappers=[Broken()])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            with pytest.raises(patchwire.PluginError, match=r"mapper 'broken' from plugin 'test-0-.*prepare"):
                await router.acompletion("fake/acme/chat", HELLO)


def test_a_prepare_that_is_not_a_method_is_a_contract_problem() -> None:
    class Odd:
        name, order, prepare = "odd", 1, 5

        def map(self, call: patchwire.MapCall) -> None: ...

    assert problems_of("mapper", Odd()) == ["has prepare=5, which is not a method"]


def test_a_plan_follows_the_schema_it_was_made_for() -> None:
    # The same model read with two schemas (a new version): each call is mapped by its own schema.
    provider = RecordingProvider("replicate")
    with registered(plugin(providers=[provider])) as plugins:
        pipeline = build_pipeline(plugins, "replicate/acme/chat", requested_format="llama3")
    request = ChatRequest(
        model="replicate/acme/chat",
        ref=pipeline.ref,
        messages=(Message("user", "Hi"),),
        params={"max_tokens": 9},
    )
    old = InputSchema(
        {"prompt": InputSpec("prompt", "string"), "max_new_tokens": InputSpec("max_new_tokens")}
    )
    new = InputSchema(
        {"prompt": InputSpec("prompt", "string"), "max_tokens": InputSpec("max_tokens", "integer")}
    )
    for schema, name in [(old, "max_new_tokens"), (new, "max_tokens"), (old, "max_new_tokens")]:
        inputs = pipeline.plan(schema).build(request)
        assert {k: v for k, v in inputs.items() if k != "prompt"} == {name: 9}
    unknown_input = ChatRequest(
        model="replicate/acme/chat", ref=pipeline.ref, messages=(Message("user", "Hi"),), params={"top_k": 1}
    )
    with pytest.raises(patchwire.BadRequestError, match="has no input 'top_k'"):
        pipeline.plan(new).build(unknown_input)


class SchemaPerBase(RecordingProvider):
    """A provider whose model has a different schema at each API base (a mirror, a newer version)."""

    def __init__(self, schemas: dict[str | None, InputSchema | None]) -> None:
        super().__init__("fake")
        self.schemas = schemas

    async def input_schema(
        self, ref: patchwire.ModelRef, context: patchwire.ProviderContext
    ) -> InputSchema | None:
        self.schema_fetches += 1
        return self.schemas[context.api_base]


async def test_each_api_base_gets_the_plan_of_its_own_schema() -> None:
    # The model takes top_k at one base and not at the other: a plan kept for one base must never
    # serve a call to the other, in either order.
    prompt = InputSpec("prompt", "string")
    provider = SchemaPerBase(
        {
            "http://a.test": InputSchema({"prompt": prompt, "top_k": InputSpec("top_k", "integer")}),
            "http://b.test": InputSchema({"prompt": prompt}),
        }
    )
    with registered(plugin(providers=[provider])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            for _ in range(2):
                await router.acompletion("fake/acme/chat", HELLO, api_base="http://a.test", top_k=5)
                with pytest.raises(patchwire.BadRequestError, match="has no input 'top_k'"):
                    await router.acompletion("fake/acme/chat", HELLO, api_base="http://b.test", top_k=5)
    assert [inputs["top_k"] for inputs in provider.inputs] == [5, 5]
    assert provider.schema_fetches == 2  # once per base: later calls use the plan kept for it


async def test_a_model_whose_schema_is_unknown_is_asked_again_and_then_planned_by_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("patchwire.router.SCHEMA_MISS_TTL", 0.0)  # a miss is asked again at once
    provider = SchemaPerBase({None: None})
    with registered(plugin(providers=[provider])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            await router.acompletion("fake/acme/chat", HELLO, top_k=5)  # no schema: passes as given
            provider.schemas[None] = InputSchema({"prompt": InputSpec("prompt", "string")})
            with pytest.raises(patchwire.BadRequestError, match="has no input 'top_k'"):
                await router.acompletion("fake/acme/chat", HELLO, top_k=5)
    assert provider.schema_fetches == 2
