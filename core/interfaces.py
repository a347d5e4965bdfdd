"""What plugins hand the core: providers, prompt formatters, input shapers, parameter mappers and call
wrappers.

These are Protocols: a plugin returns any object with these attributes from its hooks (see
``patchwire.hookspecs``); it never subclasses anything of the core's. Together with the hook
specification this module is the whole contract: every attribute the core (or a built-in plugin) reads
from a plugin's object is declared here.

Required attributes are in ``Provider``, ``PromptFormatter``, ``ParamMapper`` and ``CallWrapper``.
Optional ones are in ``ProviderExtras``, ``FormatterExtras`` and ``MapperExtras`` (which shapers share):
leave them out and the default written beside each applies (``OPTIONAL`` holds the same defaults, and
the functions ``wants_prompt``, ``keeps_deadline``, ``uses_model_template``, ``serves``,
``prepared_for`` and ``provider_with_options`` read them).

Every object a hook returns is checked against this contract when a pipeline is built and by
``patchwire plugins``; a malformed one is reported with its plugin's name and distribution, and a call
that needs what it lacks raises ``patchwire.PluginError`` naming the plugin.
"""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
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
    Optional attributes: see ``ProviderExtras``.
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

        The iterator must clean up (cancel upstream work) when closed early or cancelled: if it has an
        ``aclose()`` (an async generator has), the core calls it when the caller closes the stream.
        """
        ...


class ProviderExtras(Protocol):
    """Optional attributes of a provider, each with the default used when it is absent."""

    #: Whether the provider takes a prompt built by a formatter. Default ``True``; a provider whose
    #: models take the messages themselves sets ``False`` and the pipeline chooses no formatter.
    wants_prompt: bool
    #: Whether every call ends by ``context.deadline`` on its own, raising ``Timeout`` (and cleaning up
    #: what it started) when it passes. Default ``False``: the router then cancels a call that overruns
    #: its deadline by ``DEADLINE_GRACE``. ``True`` saves that timer on every call.
    keeps_deadline: bool

    def with_options(self, **options: Any) -> Provider:
        """A copy of this provider with options set (``Router(provider_options={name: {...}})`` and
        ``router_settings.provider_options`` in the proxy config call it). Default when absent: the
        provider takes no options, and giving it some is a ``ConfigError``. Raise ``ConfigError`` (or
        ``TypeError`` for an unknown keyword) for an option or value it does not take."""
        ...

    async def drain(self) -> None:
        """Finish (in bounded time) the work this provider still does in the background on the running
        loop, such as cancelling the predictions of calls that ended: ``Router.aclose()`` awaits it
        before it closes the HTTP session that work uses. Default when absent: nothing to wait for."""
        ...

    def preview(self, call: ProviderCall) -> list[dict[str, Any]]:
        """The requests ``complete`` would send first, as ``{method, url, headers, body}`` dicts with
        the key redacted, sending nothing (``patchwire inspect`` shows them). Default when absent:
        ``[{"inputs": call.inputs}]``."""
        ...


@runtime_checkable
class PromptFormatter(Protocol):
    """Turns a conversation into one prompt string. Returned by the ``patchwire_formatters`` hook.

    ``models`` are shell-style patterns (``meta/meta-llama-3-*-instruct``) matched case-insensitively
    against ``owner/name`` (or the raw reference); they say which models this formatter serves.
    Both are read-only here, so plain class attributes and frozen attrs fields satisfy the protocol.
    ``render`` returns the prompt; a message it cannot render is a ``BadRequestError`` (``text_of`` in
    ``patchwire.formatting`` reads a message's text and refuses image parts). Optional attributes:
    see ``FormatterExtras``.
    """

    @property
    def name(self) -> str: ...

    @property
    def models(self) -> Sequence[str]: ...

    def render(self, messages: Sequence[Message]) -> str: ...


class FormatterExtras(Protocol):
    """Optional attributes of a prompt formatter, each with the default used when it is absent."""

    #: Whether the model's own prompt template should still wrap this formatter's prompt. Default
    #: ``False``: the prompt is complete, so where a model has a ``prompt_template`` input the built-in
    #: ``prompt_template`` mapper sets it to ``"{prompt}"``. The ``default`` format sets ``True``.
    @property
    def uses_model_template(self) -> bool: ...


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


@attrs.frozen(slots=True)
class ModelFacts:
    """What every call to one model through one pipeline has in common: what a mapper's or shaper's
    optional ``prepare`` (``MapperExtras``) decides from, once per model and input schema."""

    ref: ModelRef
    #: The model's input schema; None when it could not be read.
    schema: InputSchema | None
    #: The formatter that renders ``prompt`` (None when the provider takes no prompt).
    formatter: PromptFormatter | None = None
    #: The caller chose the prompt format (see ``ShapeCall.format_chosen``).
    format_chosen: bool = False


@runtime_checkable
class ParamMapper(Protocol):
    """Maps call parameters to model inputs. Returned by the ``patchwire_param_mappers`` hook.

    Mappers run in ascending ``order``; equal orders run built-ins first, then third-party plugins, then
    run-time registrations, so on the same input the later one wins. Optional attributes: see
    ``MapperExtras`` (which providers a mapper serves).
    """

    @property
    def name(self) -> str: ...

    @property
    def order(self) -> int: ...

    def map(self, call: MapCall) -> None: ...


@attrs.define(slots=True)
class ShapeCall:
    """The state input shapers work on, one shaper after another, before the parameter mappers.

    ``messages`` is the conversation still to be placed: a shaper that moves part of it into a model
    input (images into the model's image input) replaces it with what is left. A shaper that places
    the whole conversation (into a ``messages`` input, or ``system_prompt`` + ``prompt``) writes
    ``inputs`` and sets ``placed``; later shapers then leave the conversation alone. If nothing placed
    it, the core renders ``messages`` with ``formatter`` into ``inputs["prompt"]`` (today's rule for
    every model whose schema is unknown). ``params`` are the call's parameters: a shaper may read them,
    and pops only what it consumed. ``format_chosen`` is True when the caller chose the prompt format
    for this model (``format=``, a registered or configured template): the conversation is then
    theirs to format, and shapers must not route around ``formatter``.
    """

    ref: ModelRef
    schema: InputSchema | None
    messages: tuple[Message, ...]
    params: dict[str, Any]
    inputs: dict[str, Any]
    formatter: PromptFormatter | None = None
    format_chosen: bool = False
    placed: bool = False


@runtime_checkable
class InputShaper(Protocol):
    """Decides where the conversation goes among a model's inputs, from its schema. Returned by the
    ``patchwire_input_shapers`` hook.

    Shapers run in ascending ``order`` (ties: built-in, third-party, run-time), each seeing what the
    earlier ones did; ``shape`` changes the ``ShapeCall`` in place and raises ``BadRequestError`` for a
    conversation the model cannot take. Optional: ``providers``, as for a mapper (``MapperExtras``):
    a shaper that knows one service's input conventions names it.
    """

    @property
    def name(self) -> str: ...

    @property
    def order(self) -> int: ...

    def shape(self, call: ShapeCall) -> None: ...


class MapperExtras(Protocol):
    """Optional attributes of a parameter mapper (and of an input shaper), each with the default used
    when it is absent."""

    #: The names of the providers whose calls this mapper serves (``("replicate",)``). Default ``()``:
    #: every provider's. A mapper that knows one service's conventions names it, so they never reach
    #: another provider.
    @property
    def providers(self) -> Collection[str]: ...

    def prepare(self, model: ModelFacts) -> Callable[[Any], None] | None:
        """Default: absent, and ``map`` (``shape``) runs on every call.

        Called once per model and input schema, when the model's first call meets them: returns the
        function to run on each call to that model in place of ``map`` (``shape``), which must do
        exactly what ``map`` would do there, or None when ``map`` would do nothing on any call to it
        (the mapper is then skipped). Schema lookups a mapper would repeat on every call happen here
        once instead. An exception it raises fails the call, as one from ``map`` would.
        """
        ...


#: The optional attributes by kind of object, with the default the core uses when one is absent.
OPTIONAL: Mapping[str, Mapping[str, Any]] = {
    "provider": {
        "wants_prompt": True,
        "keeps_deadline": False,
        "with_options": None,
        "preview": None,
        "drain": None,
    },
    "formatter": {"uses_model_template": False},
    "mapper": {"providers": (), "prepare": None},
    "shaper": {"providers": (), "prepare": None},
    "wrapper": {},
}


def wants_prompt(provider: Provider) -> bool:
    """``provider.wants_prompt``, default True."""
    return bool(getattr(provider, "wants_prompt", True))


def keeps_deadline(provider: Provider) -> bool:
    """``provider.keeps_deadline``, default False."""
    return getattr(provider, "keeps_deadline", False) is True


def uses_model_template(formatter: PromptFormatter) -> bool:
    """``formatter.uses_model_template``, default False."""
    return bool(getattr(formatter, "uses_model_template", False))


def serves(mapper: ParamMapper | InputShaper, provider_name: str) -> bool:
    """Whether the mapper (or shaper) runs for calls to the provider ``provider_name`` (default: all)."""
    providers: Collection[str] = getattr(mapper, "providers", ())
    return not providers or provider_name in providers


def prepared_for(obj: ParamMapper | InputShaper, model: ModelFacts, method: str) -> Any:
    """What a mapper (``method="map"``) or shaper (``"shape"``) runs on each call to ``model``: what its
    ``prepare`` returns (None: nothing), else the method itself. The caller checks the result."""
    prepare = getattr(obj, "prepare", None)
    if prepare is None:
        return getattr(obj, method)
    return prepare(model)


def provider_preview(provider: Provider) -> Callable[[ProviderCall], list[dict[str, Any]]] | None:
    """``provider.preview``, or None when the provider cannot show its requests."""
    method: Callable[[ProviderCall], list[dict[str, Any]]] | None = getattr(provider, "preview", None)
    return method


def provider_drain(provider: Provider) -> Callable[[], Awaitable[None]] | None:
    """``provider.drain``, or None when the provider does no work in the background."""
    method: Callable[[], Awaitable[None]] | None = getattr(provider, "drain", None)
    return method


def provider_with_options(provider: Provider) -> Callable[..., Provider] | None:
    """``provider.with_options``, or None when the provider takes no options."""
    method: Callable[..., Provider] | None = getattr(provider, "with_options", None)
    return method


CallResult = ChatResponse | AsyncIterator[ChatChunk]
CallNext = Callable[[ProviderCall], Awaitable[CallResult]]


@runtime_checkable
class CallWrapper(Protocol):
    """Observes or wraps every call (logging, metrics, caching). Returned by ``patchwire_call_wrappers``.

    ``wrap`` gets the call and ``call_next``; it may change the call, return a result without calling on
    (a cache hit), or watch what comes back. For a stream the result is the chunk iterator. Wrappers of
    the highest-precedence plugin are outermost.
    """

    name: str

    async def wrap(self, call: ProviderCall, call_next: CallNext) -> CallResult: ...


__all__ = [
    "OPTIONAL",
    "CallNext",
    "CallResult",
    "CallWrapper",
    "FormatterExtras",
    "InputShaper",
    "MapCall",
    "MapperExtras",
    "ModelFacts",
    "ParamMapper",
    "PromptFormatter",
    "Provider",
    "ProviderCall",
    "ProviderContext",
    "ProviderExtras",
    "ShapeCall",
    "formatter_matches",
    "prepared_for",
    "provider_preview",
    "provider_with_options",
    "serves",
    "uses_model_template",
    "wants_prompt",
]
