"""The router's pipeline: formatter -> mappers -> provider, with its ordering, caching and errors."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import Formatter, Plugin, SetInput, fake_plugins

import patchwire
from patchwire import BadRequestError, InputSchema, InputSpec, NotFoundError

MESSAGES = [{"role": "system", "content": "Be a good human!"}, {"role": "user", "content": "Hi"}]


async def test_prompt_and_inputs_reach_the_provider() -> None:
    plugins, provider = fake_plugins()
    async with patchwire.Router(plugins=plugins) as router:
        response = await router.acompletion("fake/acme/chat", MESSAGES, max_tokens=20)
    assert response.choices[0].message.content == "Be a good human!|Hi"
    assert response["choices"][0]["message"]["content"] == "Be a good human!|Hi"
    (call,) = provider.calls
    assert call.inputs == {"prompt": "Be a good human!|Hi", "max_tokens": 20}
    assert call.request.ref.owner == "acme" and call.request.ref.name == "chat"


async def test_provider_specific_params_pass_through_untouched() -> None:
    plugins, provider = fake_plugins()
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion(
            "fake/acme/chat", MESSAGES, seed=-1, min_tokens=2, top_k=20, custom={"nested": [1, 2]}
        )
    inputs = provider.calls[0].inputs
    assert inputs["seed"] == -1 and inputs["min_tokens"] == 2 and inputs["top_k"] == 20
    assert inputs["custom"] == {"nested": [1, 2]}


async def test_mappers_run_in_order_and_later_registration_wins_ties() -> None:
    log: list[str] = []
    builtin_like = SetInput("first-registered", 100, "max_tokens", "max_new_tokens", log)
    later = SetInput("later-registered", 100, "max_tokens", "max_new_tokens", log)
    earlier_order = SetInput("order-50", 50, "temperature", "temp", log)
    plugins, provider = fake_plugins(Plugin(mappers=[builtin_like]), Plugin(mappers=[later, earlier_order]))
    # Equal orders: the first-registered (built-in) mapper runs first and consumes max_tokens.
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion("fake/acme/chat", MESSAGES, max_tokens=5, temperature=0.5)
    assert log == ["order-50", "first-registered", "later-registered"]
    inputs = provider.calls[0].inputs
    assert inputs["max_new_tokens"] == "first-registered:5"
    assert inputs["temp"] == "order-50:0.5"


async def test_a_later_mapper_overwrites_an_input_an_earlier_one_set() -> None:
    class Overwrite:
        name = "overwrite"
        order = 100

        def map(self, call: patchwire.MapCall) -> None:
            if "max_new_tokens" in call.inputs:
                call.inputs["max_new_tokens"] = "third-party"

    plugins, provider = fake_plugins(
        Plugin(mappers=[SetInput("builtin", 100, "max_tokens", "max_new_tokens")]),
        Plugin(mappers=[Overwrite()]),
    )
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion("fake/acme/chat", MESSAGES, max_tokens=5)
    assert provider.calls[0].inputs["max_new_tokens"] == "third-party"


async def test_formatter_precedence_runtime_over_earlier_and_by_pattern() -> None:
    plugins, _provider = fake_plugins(Plugin(formatters=[Formatter("acme", ["acme/*"], "<{role}>{text}")]))
    async with patchwire.Router(plugins=plugins) as router:
        claimed = await router.acompletion("fake/acme/chat", MESSAGES)
        unclaimed = await router.acompletion("fake/other/chat", MESSAGES)
        forced = await router.acompletion("fake/acme/chat", MESSAGES, format="plain")
    assert claimed.choices[0].message.content == "<system>Be a good human!|<user>Hi"
    assert unclaimed.choices[0].message.content == "Be a good human!|Hi"
    assert forced.choices[0].message.content == "Be a good human!|Hi"


async def test_unknown_format_names_the_available_ones() -> None:
    plugins, _ = fake_plugins()
    async with patchwire.Router(plugins=plugins) as router:
        with pytest.raises(BadRequestError, match="available formats: plain"):
            await router.acompletion("fake/acme/chat", MESSAGES, format="nope")


async def test_pipeline_is_resolved_once_and_rebuilt_when_plugins_change() -> None:
    calls: list[str] = []

    class Counting(Plugin):
        @patchwire.hookimpl
        def patchwire_param_mappers(self) -> list[Any]:
            calls.append("mappers")
            return []

    plugins, provider = fake_plugins(Counting())
    async with patchwire.Router(plugins=plugins) as router:
        for _ in range(5):
            await router.acompletion("fake/acme/chat", MESSAGES)
        assert calls == ["mappers"]
        assert provider.schema_fetches == 1
        plugins.register(Plugin(formatters=[Formatter("late", ["acme/*"], "late:{text}")]), "late")
        response = await router.acompletion("fake/acme/chat", MESSAGES)
    assert calls == ["mappers", "mappers"]
    assert response.choices[0].message.content.startswith("late:")


async def test_call_wrappers_nest_highest_precedence_outermost() -> None:
    seen: list[str] = []

    class Wrapper:
        def __init__(self, name: str) -> None:
            self.name = name

        async def wrap(self, call: patchwire.ProviderCall, call_next: Any) -> Any:
            seen.append(f"{self.name}>")
            result = await call_next(call)
            seen.append(f"<{self.name}")
            return result

    plugins, _ = fake_plugins(Plugin(wrappers=[Wrapper("builtin")]), Plugin(wrappers=[Wrapper("runtime")]))
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion("fake/acme/chat", MESSAGES)
    assert seen == ["runtime>", "builtin>", "<builtin", "<runtime"]


async def test_a_wrapper_can_answer_without_calling_the_provider() -> None:
    class Cache:
        name = "cache"

        def __init__(self) -> None:
            self.stored: Any = None

        async def wrap(self, call: patchwire.ProviderCall, call_next: Any) -> Any:
            if self.stored is None:
                self.stored = await call_next(call)
            return self.stored

    plugins, provider = fake_plugins(Plugin(wrappers=[Cache()]))
    async with patchwire.Router(plugins=plugins) as router:
        first = await router.acompletion("fake/acme/chat", MESSAGES)
        second = await router.acompletion("fake/acme/chat", MESSAGES)
    assert first is second and len(provider.calls) == 1


@pytest.mark.parametrize(
    ("model", "messages", "params", "match"),
    [
        ("", MESSAGES, {}, "model is empty"),
        ("nope/acme/chat", MESSAGES, {}, "no known provider prefix.*Available providers: fake"),
        ("fake/", MESSAGES, {}, "names the provider but no model"),
        ("fake/acme/chat", [], {}, "messages is empty"),
        ("fake/acme/chat", "hello", {}, "messages must be a list"),
        ("fake/acme/chat", [{"content": "x"}], {}, r"messages\[0\] has no 'role'"),
        ("fake/acme/chat", [{"role": "bot", "content": "x"}], {}, "accepted roles are: system, user"),
        ("fake/acme/chat", [{"role": "user", "content": 3}], {}, r"messages\[0\].content must be"),
        ("fake/acme/chat", [{"role": "user"}], {}, r"messages\[0\].content is missing"),
        ("fake/acme/chat", ["hi"], {}, r"messages\[0\] must be an object"),
        ("fake/acme/chat", MESSAGES, {"temperature": "hot"}, "temperature must be a number"),
        ("fake/acme/chat", MESSAGES, {"max_tokens": 0}, "max_tokens must be at least 1"),
        ("fake/acme/chat", MESSAGES, {"stop": [1]}, "stop must be a string or a list of strings"),
        ("fake/acme/chat", MESSAGES, {"n": 2}, "only one choice per call"),
        ("fake/acme/chat", MESSAGES, {"tools": [{}]}, "drop_params=True"),
        ("fake/acme/chat", MESSAGES, {"timeout": -1}, "timeout must be a positive number"),
        ("fake/acme/chat", MESSAGES, {"timeout": float("nan")}, "timeout must be a positive number"),
        ("fake/acme/chat", MESSAGES, {"timeout": True}, "timeout must be a positive number"),
        ("fake/acme/chat", MESSAGES, {"timeout": 10**400}, "timeout must be a positive number"),
        ("fake/acme/chat", MESSAGES, {"stream": "yes"}, "stream must be true or false"),
        ("fake/acme/chat", MESSAGES, {"prompt": "raw"}, "prompt is built from messages"),
    ],
)
async def test_bad_input_raises_before_any_provider_call(
    model: str, messages: Any, params: dict[str, Any], match: str
) -> None:
    plugins, provider = fake_plugins()
    async with patchwire.Router(plugins=plugins) as router:
        with pytest.raises(BadRequestError, match=match) as info:
            await router.acompletion(model, messages, **params)
    assert provider.calls == []
    assert info.value.status_code == 400


async def test_drop_params_drops_what_a_text_model_cannot_take() -> None:
    plugins, provider = fake_plugins()
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion("fake/acme/chat", MESSAGES, tools=[{}], drop_params=True)
    assert "tools" not in provider.calls[0].inputs


async def test_routes_apply_defaults_beneath_call_arguments_and_spread_load() -> None:
    plugins, provider = fake_plugins()
    routes = {
        "chat": [
            patchwire.ModelRoute("fake/acme/one", params={"max_tokens": 20, "temperature": 0.5}),
            patchwire.ModelRoute("fake/acme/two", params={"max_tokens": 20}),
        ]
    }
    async with patchwire.Router(plugins=plugins, routes=routes) as router:
        await router.acompletion("chat", MESSAGES, temperature=0.9)
        await router.acompletion("chat", MESSAGES)
        with pytest.raises(NotFoundError, match="available models: chat"):
            await router.acompletion("nope", MESSAGES)
    first, second = provider.calls
    assert first.request.ref.name == "one" and first.inputs["temperature"] == 0.9
    assert first.inputs["max_tokens"] == 20
    assert second.request.ref.name == "two"


async def test_schema_reaches_mappers() -> None:
    seen: list[Any] = []

    class SchemaReader:
        name = "reader"
        order = 100

        def map(self, call: patchwire.MapCall) -> None:
            seen.append(call.schema)

    plugins, provider = fake_plugins(Plugin(mappers=[SchemaReader()]))
    provider.schema = InputSchema(inputs={"prompt": InputSpec("prompt", "string")}, required=("prompt",))
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion("fake/acme/chat", MESSAGES)
    assert seen == [provider.schema]


async def test_stream_yields_chunks_and_closing_early_closes_the_provider_iterator() -> None:
    plugins, provider = fake_plugins()
    async with patchwire.Router(plugins=plugins, max_concurrency=1) as router:
        stream = await router.acompletion(
            "fake/acme/chat", [{"role": "user", "content": "a b c"}], stream=True
        )
        texts = [chunk.choices[0].delta.content async for chunk in stream]
        assert "".join(t or "" for t in texts) == "a b c"
        assert provider.closed_streams == 1
        async with await router.acompletion(
            "fake/acme/chat", [{"role": "user", "content": "a b c"}], stream=True
        ) as early:
            async for _chunk in early:
                break
        assert provider.closed_streams == 2
        # The concurrency slot came back both times, or this call would wait for ever.
        response = await router.acompletion("fake/acme/chat", MESSAGES)
    assert response.choices[0].message.content


async def test_register_prompt_template_beats_every_formatter_for_that_model() -> None:
    class TemplatePlugin:
        @patchwire.hookimpl
        def patchwire_template_formatter(self, name: str, template: patchwire.PromptTemplate) -> Any:
            return Formatter(name, [], template.initial_prompt_value + "{text}")

    plugins, _provider = fake_plugins(TemplatePlugin(), Plugin(formatters=[Formatter("acme", ["acme/*"])]))
    async with patchwire.Router(plugins=plugins) as router:
        router.register_prompt_template(
            "fake/acme/chat", roles={"user": {"pre_message": "[INST]"}}, initial_prompt_value=">"
        )
        response = await router.acompletion("fake/acme/chat", MESSAGES)
        other = await router.acompletion("fake/acme/other", MESSAGES)
    assert response.choices[0].message.content == ">Be a good human!|>Hi"
    assert other.choices[0].message.content == "Be a good human!|Hi"


async def test_register_prompt_template_checks_its_fields() -> None:
    plugins, _ = fake_plugins()
    router = patchwire.Router(plugins=plugins)
    with pytest.raises(BadRequestError, match=r"roles\.user has unknown keys"):
        router.register_prompt_template("fake/acme/chat", roles={"user": {"prefix": "x"}})


async def test_a_parameter_named_self_is_just_a_parameter() -> None:
    plugins, provider = fake_plugins()
    async with patchwire.Router(plugins=plugins) as router:
        await router.acompletion("fake/acme/chat", MESSAGES, **{"self": 1})
    assert provider.calls[0].inputs["self"] == 1


async def test_hostile_values_get_a_bounded_typed_error() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    plugins, _ = fake_plugins()
    async with patchwire.Router(plugins=plugins) as router:
        with pytest.raises(BadRequestError, match="temperature must be a number") as info:
            await router.acompletion("fake/acme/chat", MESSAGES, temperature=deep)
        assert len(str(info.value)) < 200
        with pytest.raises(BadRequestError, match="max_tokens must be an integer") as info:
            await router.acompletion("fake/acme/chat", MESSAGES, max_tokens="x" * 1_000_000)
        assert len(str(info.value)) < 200
