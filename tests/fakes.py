"""Small plugins the core tests compose pipelines from: a provider, formatters and mappers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs

import patchwire
from patchwire import (
    ChatChunk,
    ChatResponse,
    Choice,
    ChunkChoice,
    Delta,
    InputSchema,
    MapCall,
    Message,
    ModelRef,
    ProviderCall,
    ProviderContext,
    Usage,
)


class FakeProvider:
    """Answers with the prompt it was given, so a test sees exactly what the pipeline built."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[ProviderCall] = []
        self.schema: InputSchema | None = None
        self.schema_fetches = 0
        self.closed_streams = 0

    def parse_model(self, raw: str) -> ModelRef:
        owner, _, name = raw.partition("/")
        if not name:
            raise patchwire.BadRequestError(f"fake models look like 'fake/owner/name', not {raw!r}")
        return ModelRef(provider="fake", raw=raw, owner=owner, name=name)

    async def input_schema(self, ref: ModelRef, context: ProviderContext) -> InputSchema | None:
        self.schema_fetches += 1
        return self.schema

    async def complete(self, call: ProviderCall) -> ChatResponse:
        self.calls.append(call)
        return ChatResponse(
            id=f"fake-{len(self.calls)}",
            created=0,
            model=f"fake/{call.request.ref.raw}",
            choices=(Choice(index=0, message=Message("assistant", call.inputs.get("prompt", ""))),),
            usage=Usage(1, 1, 2),
        )

    async def stream(self, call: ProviderCall) -> AsyncIterator[ChatChunk]:
        self.calls.append(call)
        words = str(call.inputs.get("prompt", "")).split(" ")

        async def chunks() -> AsyncIterator[ChatChunk]:
            try:
                for i, word in enumerate(words):
                    yield ChatChunk(
                        id="fake-stream",
                        created=0,
                        model=f"fake/{call.request.ref.raw}",
                        choices=(ChunkChoice(0, Delta(content=word if i == 0 else " " + word)),),
                    )
            finally:
                self.closed_streams += 1

        return chunks()


@attrs.frozen
class Formatter:
    name: str
    models: Sequence[str]
    template: str = "{text}"

    def render(self, messages: Sequence[Message]) -> str:
        return "|".join(self.template.format(role=m.role, text=m.text) for m in messages)


@attrs.frozen
class SetInput:
    """A mapper that moves one param to an input, recording the order mappers ran in."""

    name: str
    order: int
    param: str
    target: str
    log: list[str] = attrs.field(factory=list, eq=False)

    def map(self, call: MapCall) -> None:
        self.log.append(self.name)
        if self.param in call.params:
            call.inputs[self.target] = f"{self.name}:{call.params.pop(self.param)}"


class Plugin:
    """A plugin object contributing whatever it was given."""

    def __init__(
        self,
        *,
        providers: Sequence[Any] = (),
        formatters: Sequence[Any] = (),
        mappers: Sequence[Any] = (),
        wrappers: Sequence[Any] = (),
    ) -> None:
        self.providers = list(providers)
        self.formatters = list(formatters)
        self.mappers = list(mappers)
        self.wrappers = list(wrappers)

    @patchwire.hookimpl
    def patchwire_providers(self) -> list[Any]:
        return self.providers

    @patchwire.hookimpl
    def patchwire_formatters(self) -> list[Any]:
        return self.formatters

    @patchwire.hookimpl
    def patchwire_param_mappers(self) -> list[Any]:
        return self.mappers

    @patchwire.hookimpl
    def patchwire_call_wrappers(self) -> list[Any]:
        return self.wrappers


def fake_plugins(*extra: Any) -> tuple[patchwire.Plugins, FakeProvider]:
    """A plugin set with no entry points: the fake provider, a catch-all formatter, and ``extra``."""
    plugins = patchwire.Plugins(load_entrypoints=False)
    provider = FakeProvider()
    plugins.register(Plugin(providers=[provider], formatters=[Formatter("plain", ["*"])]), "fake-base")
    for i, plugin in enumerate(extra):
        plugins.register(plugin, f"extra-{i}")
    return plugins, provider
