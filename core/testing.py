"""Test doubles for users and plugin authors: a fake Replicate, a recording provider, one-test plugins.

Everything here talks real HTTP on 127.0.0.1 or runs in-process; nothing reaches the network.

The fake Replicate (the simulator behind ``patchwire fake-replicate``), as an async context manager::

    from patchwire.testing import fake_replicate

    async def test_my_code():
        async with fake_replicate(latency=0.01, tokens=8) as replicate:
            response = await patchwire.acompletion(
                model="replicate/meta/meta-llama-3-8b-instruct",
                messages=[{"role": "user", "content": "Hello"}],
                api_base=replicate.url,
                api_key=replicate.api_key,
            )
        (prediction,) = replicate.predictions       # exactly what reached "Replicate"
        assert prediction.input["prompt"].endswith("Hello")

or as pytest fixtures (with pytest-asyncio installed): add ``pytest_plugins = ["patchwire.testing"]`` to
your top-level ``conftest.py`` and ask for ``fake_replicate_server`` (one with default settings) or
``start_fake_replicate`` (``await start_fake_replicate(latency=0.5)``; stopped when the test ends).

A recording provider shows what a pipeline built, with no server at all::

    from patchwire.testing import RecordingProvider, plugin, registered

    provider = RecordingProvider()                  # serves "fake/owner/name"
    with registered(plugin(providers=[provider], formatters=[MyFormatter()])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            await router.acompletion("fake/acme/chat", messages, max_tokens=5)
    assert provider.prompts == ["<my format>..."] and provider.inputs[0]["max_tokens"] == 5

``registered`` adds plugins above every installed one for the block and removes them afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from patchwire.errors import BadRequestError
from patchwire.hookspecs import hookimpl
from patchwire.interfaces import ProviderCall, ProviderContext
from patchwire.manager import Plugins
from patchwire.types import (
    ChatChunk,
    ChatResponse,
    Choice,
    ChunkChoice,
    Delta,
    InputSchema,
    Message,
    ModelRef,
    Usage,
)

#: A key the fake Replicate accepts (it accepts any non-empty key unless told otherwise).
TEST_KEY = "r8_test-key-0123456789abcdef"


# -- a fake Replicate ----------------------------------------------------------------------------


@attrs.define
class FakeReplicate:
    """A running fake Replicate: its base ``url`` (pass it as ``api_base``), a key it accepts, and the
    simulator itself (``sim``: ``sim.predictions``, ``sim.inject_fault(...)``, ``sim.stats``)."""

    sim: Any
    url: str
    api_key: str = attrs.field(default=TEST_KEY, repr=False)

    @property
    def predictions(self) -> list[Any]:
        """Every prediction created so far, oldest first (each has ``input``, ``status``, ``id``)."""
        return list(self.sim.predictions.values())


@contextlib.asynccontextmanager
async def fake_replicate(**config: Any) -> AsyncIterator[FakeReplicate]:
    """Run a fake Replicate on 127.0.0.1 (a free port) for the block.

    ``config`` are the simulator's settings (``latency``, ``tokens``, ``token_interval``, ``cold_boot``,
    ``faults``, ...; see ``patchwire.providers.replicate.simulator``); ``latency`` defaults to 0 here.
    """
    # Imported here: the core never imports a provider when it is imported itself.
    from patchwire.providers.replicate.simulator import ReplicateSimulator, SimulatorConfig

    config.setdefault("latency", 0.0)
    sim = ReplicateSimulator(SimulatorConfig(**config))
    async with sim.serve(host="127.0.0.1", port=0) as url:
        yield FakeReplicate(sim, url)


StartFakeReplicate = Callable[..., Awaitable[FakeReplicate]]


# -- a recording provider ------------------------------------------------------------------------


class RecordingProvider:
    """A provider that records every call that reaches it and answers without a network.

    It serves ``<name>/owner/model`` and ``<name>/model``. ``calls`` holds each ``ProviderCall``
    (request, inputs, context); ``prompts`` and ``inputs`` are the prompt and the model inputs of each
    call, in order. The answer is ``reply`` if given, else the prompt itself, so a test sees what the
    formatter built; a stream yields it word by word. Set ``schema`` to give the mappers a model
    schema to check against.
    """

    def __init__(self, name: str = "fake", *, reply: str | None = None, wants_prompt: bool = True) -> None:
        self.name = name
        self.reply = reply
        self.wants_prompt = wants_prompt
        self.calls: list[ProviderCall] = []
        self.schema: InputSchema | None = None
        self.schema_fetches = 0
        #: How many streams were closed (finished, abandoned or cancelled).
        self.closed_streams = 0

    def __repr__(self) -> str:
        return f"RecordingProvider(name={self.name!r}, calls={len(self.calls)})"

    @property
    def prompts(self) -> list[str | None]:
        """The prompt of each call (None for a call without one)."""
        return [call.inputs.get("prompt") for call in self.calls]

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """The model inputs of each call, as the mappers left them."""
        return [dict(call.inputs) for call in self.calls]

    def parse_model(self, raw: str) -> ModelRef:
        """``owner/name`` or a bare ``name``."""
        owner, sep, name = raw.partition("/")
        if not sep:
            owner, name = "", raw
        if not name or (sep and not owner) or "/" in name:
            raise BadRequestError(
                f"{self.name} models look like '{self.name}/owner/name' or '{self.name}/name', not {raw!r}",
                param="model",
            )
        return ModelRef(provider=self.name, raw=raw, owner=owner or None, name=name)

    async def input_schema(self, ref: ModelRef, context: ProviderContext) -> InputSchema | None:
        self.schema_fetches += 1
        return self.schema

    def _answer(self, call: ProviderCall) -> str:
        return self.reply if self.reply is not None else str(call.inputs.get("prompt", ""))

    async def complete(self, call: ProviderCall) -> ChatResponse:
        self.calls.append(call)
        return ChatResponse(
            id=f"{self.name}-{len(self.calls)}",
            created=0,
            model=f"{self.name}/{call.request.ref.raw}",
            choices=(Choice(index=0, message=Message("assistant", self._answer(call))),),
            usage=Usage(1, 1, 2),
        )

    async def stream(self, call: ProviderCall) -> AsyncIterator[ChatChunk]:
        self.calls.append(call)
        words = self._answer(call).split(" ")
        model = f"{self.name}/{call.request.ref.raw}"

        async def chunks() -> AsyncIterator[ChatChunk]:
            try:
                for i, word in enumerate(words):
                    text = word if i == 0 else " " + word
                    yield ChatChunk(
                        id=f"{self.name}-stream",
                        created=0,
                        model=model,
                        choices=(ChunkChoice(0, Delta(content=text)),),
                    )
            finally:
                self.closed_streams += 1

        return chunks()


# -- plugins for one test ------------------------------------------------------------------------


class StaticPlugin:
    """A plugin object contributing the providers, formatters, mappers and wrappers it was given."""

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

    @hookimpl
    def patchwire_providers(self) -> list[Any]:
        return self.providers

    @hookimpl
    def patchwire_formatters(self) -> list[Any]:
        return self.formatters

    @hookimpl
    def patchwire_param_mappers(self) -> list[Any]:
        return self.mappers

    @hookimpl
    def patchwire_call_wrappers(self) -> list[Any]:
        return self.wrappers


def plugin(
    *,
    providers: Sequence[Any] = (),
    formatters: Sequence[Any] = (),
    mappers: Sequence[Any] = (),
    wrappers: Sequence[Any] = (),
) -> StaticPlugin:
    """A plugin contributing these objects, without writing hook implementations."""
    return StaticPlugin(providers=providers, formatters=formatters, mappers=mappers, wrappers=wrappers)


@contextlib.contextmanager
def registered(*plugins: object, into: Plugins | None = None) -> Iterator[Plugins]:
    """Register ``plugins`` (modules or objects with hook implementations) for the block, above every
    installed plugin, and unregister them afterwards. ``into`` defaults to a fresh ``Plugins()`` with the
    installed plugins loaded; pass ``patchwire.get_plugins()`` to change what ``patchwire.acompletion``
    itself uses. Yields the plugin set (give it to ``patchwire.Router(plugins=...)``)."""
    target = into if into is not None else Plugins()
    names = [target.register(p, name=f"test-{i}-{id(p):x}") for i, p in enumerate(plugins)]
    try:
        yield target
    finally:
        for name in reversed(names):
            target.unregister(name)


# -- pytest fixtures (with pytest-asyncio) --------------------------------------------------------

if TYPE_CHECKING or importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    _Fixture = TypeVar("_Fixture", bound=Callable[..., Any])
    _async_fixture: Callable[[_Fixture], _Fixture] = pytest_asyncio.fixture

    @_async_fixture
    async def start_fake_replicate() -> AsyncIterator[StartFakeReplicate]:
        """``await start_fake_replicate(latency=0.01, tokens=8)``: a fake Replicate on 127.0.0.1,
        stopped when the test ends (start several if a test needs them)."""
        async with contextlib.AsyncExitStack() as stack:

            async def start(**config: Any) -> FakeReplicate:
                return await stack.enter_async_context(fake_replicate(**config))

            yield start

    @_async_fixture
    async def fake_replicate_server(start_fake_replicate: StartFakeReplicate) -> FakeReplicate:
        """A fake Replicate with default settings, for the test."""
        return await start_fake_replicate()


__all__ = [
    "TEST_KEY",
    "FakeReplicate",
    "RecordingProvider",
    "StartFakeReplicate",
    "StaticPlugin",
    "fake_replicate",
    "plugin",
    "registered",
]
