"""What plugins hand the core: providers, prompt formatters, parameter mappers and call wrappers.

These are Protocols: a plugin returns any object with these attributes from its hooks (see
``patchwire.hookspecs``); it never subclasses anything of the core's.
"""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from patchwire.types import ChatChunk, ChatRequest, ChatResponse, InputSchema, Message, ModelRef

if TYPE_CHECKING:
    import aiohttp

    from patchwire.ratelimit import RateGate


@attrs.define(slots=True)
class ProviderContext:
    """The shared resources one call runs with. The router builds it; providers only read it."""

    session: aiohttp.ClientSession
    api_key: str | None = attrs.field(repr=False)
    api_base: str | None
    #: Absolute deadline on the event loop's clock (``loop.time()``); the call must end by then.
    deadline: float
    #: The router's shared rate gate (client-side limits and shared back-off), if any.
    gate: RateGate | None = None
    #: How often each retryable request of this call (429, 5xx, a lost connection) may be tried again
    #: (``num_retries=``); None: the provider's own policy.
    retries: int | None = None


@attrs.define(slots=True)
class ProviderCall:
    """One call as it reaches a provider: the request, the model inputs the mappers built, the context."""

    request: ChatRequest
    inputs: dict[str, Any]
    context: ProviderContext


@runtime_checkable
class Provider(Protocol):
    """Talks to one hosting service. Returned by the ``patchwire_providers`` hook.

    ``name`` is the model-string prefix it serves (``replicate`` for ``replicate/owner/name``).
    """

    name: str

    def parse_model(self, raw: str) -> ModelRef:
        """The text after ``name/`` as a ModelRef; ``BadRequestError`` if it is not a valid reference."""
        ...

    async def input_schema(self, ref: ModelRef, context: ProviderContext) -> InputSchema | None:
        """The model's inputs, or None where they cannot be had. Called once per model and api_base."""
        ...

    async def complete(self, call: ProviderCall) -> ChatResponse:
        """Run the call to the end and return the whole response."""
        ...

    async def stream(self, call: ProviderCall) -> AsyncIterator[ChatChunk]:
        """Start the call (errors in starting it raise here) and return an iterator of its chunks.

        The iterator must clean up (cancel upstream work) when closed early or cancelled.
        """
        ...


@runtime_checkable
class PromptFormatter(Protocol):
    """Turns a conversation into one prompt string. Returned by the ``patchwire_formatters`` hook.

    ``models`` are shell-style patterns (``meta/meta-llama-3-*-instruct``) matched case-insensitively
    against ``owner/name`` (or the raw reference); they say which models this formatter serves.
    Both are read-only here, so plain class attributes and frozen attrs fields satisfy the protocol.
    """

    @property
    def name(self) -> str: ...

    @property
    def models(self) -> Sequence[str]: ...

    def render(self, messages: Sequence[Message]) -> str: ...


def formatter_matches(formatter: PromptFormatter, ref: ModelRef) -> bool:
    """Whether one of the formatter's patterns claims the model."""
    candidates = {ref.slug.lower(), ref.raw.lower()}
    for pattern in formatter.models:
        pattern = pattern.lower()
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            return True
    return False


@attrs.define(slots=True)
class MapCall:
    """The state parameter mappers work on, one mapper after another.

    ``params`` are the call's parameters not yet consumed: a mapper pops what it handles. ``inputs`` are
    the model inputs built so far (``prompt`` is already there): a mapper sets or overwrites keys.
    Whatever is left in ``params`` after the last mapper is passed through unchanged. ``formatter`` is
    the one that made ``prompt`` (None if the provider takes no prompt): whether the model's own
    prompt template should still wrap the prompt depends on it.
    """

    ref: ModelRef
    schema: InputSchema | None
    params: dict[str, Any]
    inputs: dict[str, Any]
    drop_params: bool = False
    formatter: PromptFormatter | None = None


@runtime_checkable
class ParamMapper(Protocol):
    """Maps call parameters to model inputs. Returned by the ``patchwire_param_mappers`` hook.

    Mappers run in ascending ``order``; equal orders run built-ins first, then third-party plugins, then
    run-time registrations, so on the same input the later one wins.
    """

    @property
    def name(self) -> str: ...

    @property
    def order(self) -> int: ...

    def map(self, call: MapCall) -> None: ...


CallResult = ChatResponse | AsyncIterator[ChatChunk]
CallNext = Callable[[ProviderCall], Awaitable[CallResult]]


@runtime_checkable
class CallWrapper(Protocol):
    """Observes or wraps every call (logging, metrics, caching). Returned by ``patchwire_call_wrappers``.

    ``wrap`` gets the call and ``call_next``; it may change the call, return a result without calling on
    (a cache hit), or watch what comes back. For a stream the result is the chunk iterator.
    """

    name: str

    async def wrap(self, call: ProviderCall, call_next: CallNext) -> CallResult: ...


__all__ = [
    "CallNext",
    "CallResult",
    "CallWrapper",
    "MapCall",
    "ParamMapper",
    "PromptFormatter",
    "Provider",
    "ProviderCall",
    "ProviderContext",
    "formatter_matches",
]
