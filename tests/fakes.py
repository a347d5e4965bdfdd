"""Small plugins the core tests compose pipelines from, on top of ``patchwire.testing``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

import patchwire
from patchwire import MapCall, Message
from patchwire.testing import RecordingProvider, StaticPlugin

#: The recording provider under the name these tests have always used.
FakeProvider = RecordingProvider
Plugin = StaticPlugin


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


def fake_plugins(*extra: Any) -> tuple[patchwire.Plugins, RecordingProvider]:
    """A plugin set with no entry points: the fake provider, a catch-all formatter, and ``extra``."""
    plugins = patchwire.Plugins(load_entrypoints=False)
    provider = RecordingProvider()
    plugins.register(Plugin(providers=[provider], formatters=[Formatter("plain", ["*"])]), "fake-base")
    for i, plugin in enumerate(extra):
        plugins.register(plugin, f"extra-{i}")
    return plugins, provider
