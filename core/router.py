"""The router: model string -> pipeline -> provider, and the resources every call shares.

A ``Router`` owns one aiohttp session per event loop, the connection limit, an optional concurrency limit
and rate gate, the model aliases (``routes``) and the cache of resolved pipelines and input schemas.
``patchwire.acompletion`` uses a default router; build your own for separate limits or aliases.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiohttp
import attrs

from patchwire import observe
from patchwire.codec import structure_messages
from patchwire.cooldowns import DEFAULT_ALLOWED_FAILS, DEFAULT_COOLDOWN_TIME, Cooldowns, LocalCooldowns
from patchwire.errors import (
    BadRequestError,
    NotFoundError,
    PatchwireError,
    ServiceUnavailableError,
    Timeout,
)
from patchwire.fallbacks import Candidate, counts_against, falls_back, in_order
from patchwire.formatting import RAW
from patchwire.hookspecs import hookimpl
from patchwire.http import SessionPool, make_session
from patchwire.interfaces import Provider, ProviderCall, ProviderContext, provider_drain
from patchwire.manager import Plugins, get_plugins
from patchwire.mock import mock_result
from patchwire.options import (
    NO_OPTIONS,
    OPTION_NAMES,
    CallOptions,
    check_fallbacks,
    check_num_retries,
    take_call_options,
)
from patchwire.pipeline import (
    BoundFormatter,
    Pipeline,
    build_pipeline,
    configure_providers,
    providers_by_name,
    template_formatter,
)
from patchwire.ratelimit import RateGate
from patchwire.shaping import InputPlan
from patchwire.stream import Stream
from patchwire.text import TextStream, atext_completion
from patchwire.types import (
    ChatRequest,
    ChatResponse,
    InputSchema,
    ModelRoute,
    PromptTemplate,
    RoleTemplate,
    TextCompletion,
)
from patchwire.validation import check_params, show

log = logging.getLogger("patchwire")

DEFAULT_TIMEOUT = 600.0
#: How long a provider may overrun the deadline (to cancel upstream) before the router cuts it off.
DEADLINE_GRACE = 10.0
#: How long "no schema could be had" is remembered before asking again.
SCHEMA_MISS_TTL = 60.0


class Router:
    """Routes calls to providers through their plugin pipelines.

    ``routes`` maps public model names (aliases) to one or more ``ModelRoute``; several routes under one
    name share the load in turn, each with its own timeout and drop_params. ``max_connections`` sizes
    the connection pool, ``max_concurrency`` caps calls in flight (callers wait for a slot),
    ``rate_gate`` adds client-side rate limits. ``provider_options`` configures providers by name
    without building a plugin set by hand: ``{"replicate": {"prefer_wait": 0}}`` (each provider's
    ``with_options`` documents what it takes).

    Failing over, in LiteLLM's terms: ``fallbacks`` maps a route's name to the models tried after its
    own deployments (``{"llama-3": ["mistral-7b"]}``); ``num_retries`` is the default retry count of
    each request; a deployment that fails ``allowed_fails`` times in a row is skipped for
    ``cooldown_time`` seconds while the others serve (``cooldowns`` keeps that state: in this process
    unless you pass a shared one).
    """

    def __init__(
        self,
        *,
        plugins: Plugins | None = None,
        routes: Mapping[str, Sequence[ModelRoute]] | None = None,
        max_connections: int = 1000,
        max_concurrency: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        rate_gate: RateGate | None = None,
        provider_options: Mapping[str, Mapping[str, Any]] | None = None,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        num_retries: int | None = None,
        allowed_fails: int = DEFAULT_ALLOWED_FAILS,
        cooldown_time: float = DEFAULT_COOLDOWN_TIME,
        cooldowns: Cooldowns | None = None,
    ) -> None:
        self.plugins = plugins if plugins is not None else get_plugins()
        # Kept as given: configure_providers checks the shape (in _refresh, below).
        self.provider_options = dict(provider_options or {})
        self.routes: dict[str, tuple[ModelRoute, ...]] = {
            name: tuple(rs) for name, rs in (routes or {}).items()
        }
        for name, rs in self.routes.items():
            if not rs:
                raise BadRequestError(f"route {name!r} has no models")
        self.timeout = timeout
        self.rate_gate = rate_gate
        self.max_concurrency = max_concurrency
        self.num_retries = check_num_retries(num_retries)
        if isinstance(allowed_fails, bool) or not isinstance(allowed_fails, int) or allowed_fails < 1:
            raise BadRequestError(f"allowed_fails must be 1 or more, not {show(allowed_fails)}")
        if isinstance(cooldown_time, bool) or not isinstance(cooldown_time, int | float) or cooldown_time < 0:
            raise BadRequestError(f"cooldown_time must be 0 or more seconds, not {show(cooldown_time)}")
        self.allowed_fails = allowed_fails
        self.cooldown_time = float(cooldown_time)
        self.cooldowns: Cooldowns = cooldowns if cooldowns is not None else LocalCooldowns()
        self._turns = {name: itertools.cycle(range(len(rs))) for name, rs in self.routes.items()}
        self._sessions = SessionPool(lambda: make_session(max_connections))
        self._limits: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self._generation = -1
        self._pipelines: dict[tuple[Any, ...], Pipeline] = {}
        self._providers: dict[str, Provider] = {}
        self._refresh()  # resolves the providers now: wrong provider_options fail here, not per call
        self._schemas: dict[tuple[Any, ...], tuple[InputSchema | None, float]] = {}
        self._schema_tasks: dict[tuple[Any, ...], asyncio.Task[InputSchema | None]] = {}
        self.fallbacks: dict[str, tuple[str, ...]] = {}
        for name, chain in (fallbacks or {}).items():
            if name not in self.routes:
                raise BadRequestError(f"fallbacks are given for {name!r}, which is not a route")
            self.fallbacks[name] = self._check_fallbacks(check_fallbacks(chain))

    # -- public API -------------------------------------------------------------------------------

    async def acompletion(
        self,
        /,
        model: str,
        messages: Iterable[Any],
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        stream: bool = False,
        timeout: float | None = None,
        format: str | None = None,
        drop_params: bool = False,
        **params: Any,
    ) -> ChatResponse | Stream:
        """One chat completion; with ``stream=True`` a ``Stream`` of chunks (the await starts it).

        LiteLLM's call options are taken here and never reach the model (see ``patchwire.options``).
        A call fails over to the other deployments of its model and then to its ``fallbacks`` when the
        failure is one they can fix (see ``patchwire.fallbacks``); each attempt has its own timeout.
        """
        options = NO_OPTIONS
        if not OPTION_NAMES.isdisjoint(params):  # most calls have none: no call to look for them
            options, timeout, api_base = take_call_options(params, timeout, api_base)
        chain = options.fallbacks or self.fallbacks.get(model, ())
        routes = self.routes.get(model)
        if not chain and (routes is None or len(routes) == 1):
            # One place to try: no cooldown state to keep. Without routes, a model string is its own.
            route = routes[0] if routes is not None else self._route(model) if self.routes else None
            return await self._attempt(
                model, route, messages, api_key, api_base, stream, timeout, format, drop_params, params,
                options,
            )  # fmt: skip
        if options.fallbacks:
            self._check_fallbacks(options.fallbacks)
        messages = structure_messages(messages)  # read once: every attempt sends the same
        candidates = self._candidates(model, chain)
        cooling = await self.cooldowns.cooling([c.deployment for c in candidates if c.deployment])
        error: PatchwireError | None = None
        ordered = in_order(candidates, cooling)
        for index, candidate in enumerate(ordered):
            try:
                result = await self._attempt(
                    candidate.model, candidate.route, messages, api_key, api_base, stream, timeout,
                    format, drop_params, params, options,
                )  # fmt: skip
            except PatchwireError as exc:
                if candidate.deployment is not None and counts_against(exc):
                    cooling_now = await self.cooldowns.failed(
                        candidate.deployment,
                        allowed_fails=self.allowed_fails,
                        cooldown_time=self.cooldown_time,
                    )
                    if cooling_now:
                        observe.event(observe.COOLDOWN, candidate.deployment)
                if not falls_back(exc, after_unknown_outcome=options.fallback_on_unknown_outcome):
                    raise
                if index + 1 < len(ordered):
                    observe.event(observe.FALLBACK, candidate.model)
                log.info(
                    "patchwire: %s failed (%s: %s); trying the next candidate",
                    candidate.deployment or candidate.model,
                    type(exc).__name__,
                    exc.message,
                )
                error = exc
                continue
            if candidate.deployment is not None:
                await self.cooldowns.succeeded(candidate.deployment)
            return result
        assert error is not None
        raise error

    def _candidates(self, model: str, chain: Sequence[str]) -> list[Candidate]:
        """Every deployment of ``model`` (starting with the next in turn), then those of each fallback."""
        out: list[Candidate] = []
        for name in (model, *chain):
            routes = self.routes.get(name)
            if routes is None:
                self._route(name)  # an unknown alias is a NotFoundError here
                out.append(Candidate(name, None, None))
                continue
            start = next(self._turns[name]) if len(routes) > 1 else 0
            for i in range(len(routes)):
                index = (start + i) % len(routes)
                out.append(Candidate(name, routes[index], f"{name}#{index}"))
        return out

    def _check_fallbacks(self, chain: Sequence[str]) -> tuple[str, ...]:
        """Each fallback must be a model this router serves: a route's name, or a provider model string."""
        for name in chain:
            if name in self.routes:
                continue
            if "/" in name:
                prefix = name.partition("/")[0]
                if prefix in self._provider_names():
                    continue
            served = ", ".join(sorted(self.routes)) or "none configured; give provider model strings"
            raise BadRequestError(
                f"fallbacks names {name!r}, which no route or provider serves; routes: {served}",
                param="fallbacks",
            )
        return tuple(chain)

    async def _attempt(
        self,
        model: str,
        route: ModelRoute | None,
        messages: Iterable[Any],
        api_key: str | None,
        api_base: str | None,
        stream: bool,
        timeout: float | None,
        format: str | None,
        drop_params: bool,
        params: dict[str, Any],
        options: CallOptions,
    ) -> ChatResponse | Stream:
        """One try of a call on one route (or a provider model string)."""
        request, pipeline = self._request(
            model, route, messages, api_key, api_base, stream, timeout, format, drop_params, params
        )
        if options is not NO_OPTIONS:
            request = attrs.evolve(request, metadata=options.metadata, user=options.user)
            if options.user is not None or options.metadata is not None:
                log.debug("patchwire: call to %s user=%r metadata=%r", model, options.user, options.metadata)
            if options.mock_response is not None:
                mocked = mock_result(request, options.mock_response)
                return mocked if isinstance(mocked, ChatResponse) else Stream(mocked)
        retries = options.num_retries
        if retries is None:
            retries = self.num_retries if route is None or route.num_retries is None else route.num_retries
        context = ProviderContext(  # positionally: this runs on every call
            self._sessions.get(),
            request.api_key,
            request.api_base,
            asyncio.get_running_loop().time() + request.timeout,
            self.rate_gate,
            retries,
        )
        limit = self._slots(self.max_concurrency) if self.max_concurrency is not None else None
        if limit is not None:
            await _acquire_within(limit, context.deadline, request, "max_concurrency", self.max_concurrency)
        # A provider that keeps its deadline needs no backstop (and its calls no timer of ours).
        backstop = None if pipeline.keeps_deadline else _Backstop(context.deadline)
        try:
            plan = pipeline.ready.get(request.api_base)
            if plan is None:
                plan = await self._plan(pipeline, context)
            call = ProviderCall(request, plan.build(request), context)
            result = await (pipeline.call_stream if request.stream else pipeline.call_complete)(call)
        except BaseException as exc:
            if limit is not None:
                limit.release()
            if isinstance(exc, PatchwireError):
                raise
            if isinstance(exc, TimeoutError | asyncio.CancelledError):
                if backstop is None or not backstop.fired:
                    raise
                backstop.taken_back()
                raise Timeout(
                    f"{request.model} did not finish within timeout={request.timeout:g}s; pass a larger "
                    "timeout= (cold boots can take minutes)"
                ) from None
            if isinstance(exc, aiohttp.ClientError):
                # Never re-raise aiohttp's own errors: they carry the request headers, the key among them.
                raise ServiceUnavailableError(
                    f"network error talking to {pipeline.provider.name}: {type(exc).__name__}; "
                    "check api_base and your connection, then retry"
                ) from None
            raise
        finally:
            if backstop is not None:
                backstop.stop()
        if isinstance(result, ChatResponse):
            if limit is not None:
                limit.release()
            return result
        return Stream(result, on_close=limit.release if limit is not None else None)

    async def atext_completion(
        self, /, model: str, prompt: Any, *, stream: bool = False, **kwargs: Any
    ) -> TextCompletion | TextStream:
        """A text completion (OpenAI's legacy completions): ``prompt``, a string or a list of strings,
        reaches the model as written, with no chat format; the answer is a ``text_completion``."""
        return await atext_completion(self, model, prompt, stream=stream, **kwargs)

    async def prepare(
        self,
        /,
        model: str,
        messages: Iterable[Any],
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        stream: bool = False,
        timeout: float | None = None,
        format: str | None = None,
        drop_params: bool = False,
        **params: Any,
    ) -> tuple[Pipeline, InputSchema | None, ProviderCall]:
        """What ``acompletion`` with these arguments would hand its provider, without calling it: the
        model's pipeline, its input schema (fetched as for a call) and the call with its inputs.
        ``patchwire inspect`` shows it; a test can assert on it."""
        route = self._route(model)
        request, pipeline = self._request(
            model, route, messages, api_key, api_base, stream, timeout, format, drop_params, params
        )
        context = ProviderContext(
            session=self._sessions.get(),
            api_key=request.api_key,
            api_base=request.api_base,
            deadline=asyncio.get_running_loop().time() + request.timeout,
            gate=self.rate_gate,
        )
        schema = await self._schema(pipeline, context)
        return pipeline, schema, ProviderCall(request, pipeline.plan(schema).build(request), context)

    def register_prompt_template(
        self,
        model: str,
        roles: Mapping[str, Mapping[str, str]] | None = None,
        initial_prompt_value: str = "",
        final_prompt_value: str = "",
        bos_token: str = "",
        eos_token: str = "",
        tokenizer_config: Mapping[str, Any] | None = None,
        supports_system_prompt: bool = False,
    ) -> None:
        """Use a custom prompt template for ``model``, above every built-in: LiteLLM's roles format, or
        the model's own Hugging Face chat template as ``tokenizer_config={"chat_template": ...,
        "bos_token": ..., "eos_token": ...}`` (needs ``patchwire[templates]``)."""
        if tokenizer_config is not None:
            if roles or initial_prompt_value or final_prompt_value or bos_token or eos_token:
                raise BadRequestError(
                    "give either tokenizer_config (a Jinja chat template) or roles/initial_prompt_value/"
                    "final_prompt_value/bos_token/eos_token, not both",
                    param="tokenizer_config",
                )
            template = template_from_tokenizer_config(tokenizer_config, supports_system_prompt)
        else:
            template = make_template(
                roles,
                initial_prompt_value,
                final_prompt_value,
                bos_token,
                eos_token,
                supports_system_prompt=supports_system_prompt,
            )
        pattern = model
        prefix, sep, rest = model.partition("/")
        if sep and prefix in self._provider_names():
            pattern = rest
        inner = template_formatter(self.plugins, f"custom:{pattern}", template)
        bound = BoundFormatter(name=inner.name, models=(pattern,), inner=inner)
        self.plugins.register(_FormatterPlugin(bound), name=f"prompt-template:{pattern}")

    def providers(self) -> dict[str, Provider]:
        """The providers this router calls, by name, with its ``provider_options`` applied."""
        return dict(self._current_providers())

    async def aclose(self) -> None:
        """Close this loop's HTTP session now (it is also closed when the loop ends), once each
        provider's background work on it is done (``ProviderExtras.drain``, bounded by the provider):
        a call that ended may still be cancelling its prediction."""
        if self._sessions.has_session():
            for provider in self._current_providers().values():
                drain = provider_drain(provider)
                if drain is not None:
                    await drain()
        await self._sessions.close()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- resolution ----------------------------------------------------------------------------

    def _provider_names(self) -> set[str]:
        return set(self._current_providers())

    def _refresh(self) -> None:
        """Forget what was resolved from an older set of plugins."""
        self._pipelines.clear()
        self._generation = self.plugins.generation
        self._providers = configure_providers(providers_by_name(self.plugins), self.provider_options)

    def _current_providers(self) -> dict[str, Provider]:
        if self.plugins.generation != self._generation:
            self._refresh()
        return self._providers

    def _route(self, model: Any) -> ModelRoute | None:
        if isinstance(model, str):
            routes = self.routes.get(model)
            if routes is not None:
                return routes[next(self._turns[model])] if len(routes) > 1 else routes[0]
            if self.routes and "/" not in model:
                names = ", ".join(sorted(self.routes))
                raise NotFoundError(
                    f"model {show(model)} is not configured; available models: {names}", param="model"
                )
        return None

    def _request(
        self,
        model: str,
        route: ModelRoute | None,
        messages: Iterable[Any],
        api_key: str | None,
        api_base: str | None,
        stream: Any,
        timeout: Any,
        format: str | None,
        drop_params: bool,
        params: dict[str, Any],
    ) -> tuple[ChatRequest, Pipeline]:
        if not isinstance(stream, bool):
            raise BadRequestError(f"stream must be true or false, not {show(stream)}", param="stream")
        include_usage = "stream_options" in params and _include_usage(params.pop("stream_options"), stream)
        if not isinstance(drop_params, bool):
            raise BadRequestError(
                f"drop_params must be true or false, not {show(drop_params)}", param="drop_params"
            )
        if route is not None:
            params = {**route.params, **params}
            model_string = route.model
            api_key = api_key or route.api_key
            api_base = api_base or route.api_base
            format = format or route.format
            drop_params = drop_params or route.drop_params
            if route.timeout is not None:
                # The route's deadline is a bound: a call may shorten it, never lengthen it.
                timeout = route.timeout if timeout is None else _shorter(timeout, route.timeout)
        else:
            model_string = model
        if timeout is None:
            timeout = self.timeout
        kind = timeout.__class__
        if not ((kind is float or kind is int) and 0 < timeout < 1e12):  # the common case, else:
            _check_timeout(timeout)
        if format is not None and not isinstance(format, str):
            raise BadRequestError(f"format must be a string, not {show(format)}", param="format")
        # The model's pipeline, resolved on its first call and kept until the plugins change.
        providers = self._current_providers()
        # A route's custom template is its chat format: a raw prompt (text completions) skips it.
        template = route.template if route is not None and format != RAW else None
        key = (model_string, format, id(route)) if template is not None else (model_string, format)
        pipeline = self._pipelines.get(key)
        if pipeline is None:
            pipeline = self._pipelines[key] = build_pipeline(
                self.plugins,
                model_string,
                requested_format=format,
                template=template,
                providers=providers,
            )
        request = ChatRequest(  # positionally: this runs on every call
            model_string,
            pipeline.ref,
            structure_messages(messages),
            check_params(params, drop_params=drop_params),
            stream,
            float(timeout),
            api_key,
            api_base,
            format,
            drop_params,
            include_usage,
        )
        return request, pipeline

    async def _plan(self, pipeline: Pipeline, context: ProviderContext) -> InputPlan:
        """The model's input plan at this api_base, its schema read first (fetched on the first call);
        kept on the pipeline once the schema is known, so later calls skip both lookups."""
        schema = await self._schema(pipeline, context)
        plan = pipeline.plan(schema)
        if schema is not None:
            pipeline.keep_ready(context.api_base, plan)
        return plan

    async def _schema(self, pipeline: Pipeline, context: ProviderContext) -> InputSchema | None:
        key = (pipeline.provider.name, pipeline.ref, context.api_base)
        cached = self._schemas.get(key)
        if cached is not None:
            schema, expires = cached
            if schema is not None or time.monotonic() < expires:
                return schema
        # Many first calls at once share one fetch.
        loop = asyncio.get_running_loop()
        task_key = (*key, id(loop))
        task = self._schema_tasks.get(task_key)
        if task is None:
            task = loop.create_task(pipeline.provider.input_schema(pipeline.ref, context))
            self._schema_tasks[task_key] = task
            task.add_done_callback(lambda _t: self._schema_tasks.pop(task_key, None))
        schema = await asyncio.shield(task)
        self._schemas[key] = (schema, time.monotonic() + SCHEMA_MISS_TTL)
        return schema

    # -- running -------------------------------------------------------------------------------

    def _slots(self, size: int) -> asyncio.Semaphore:
        """This loop's semaphore of ``size`` (``max_concurrency``) call slots, made on its first call."""
        loop = asyncio.get_running_loop()
        sem = self._limits.get(loop)
        if sem is None:
            for old in [lp for lp in self._limits if lp.is_closed()]:
                del self._limits[old]
            sem = self._limits[loop] = asyncio.Semaphore(size)
        return sem


class _Backstop:
    """Cancels the call's task ``DEADLINE_GRACE`` after its deadline, for providers that may overrun it:
    cheaper than asyncio.timeout on every call, and one that honours the deadline never sees it fire."""

    __slots__ = ("_handle", "_task", "fired")

    def __init__(self, deadline: float) -> None:
        self._task = asyncio.current_task()
        self.fired = False
        self._handle = asyncio.get_running_loop().call_at(deadline + DEADLINE_GRACE, self._fire)

    def _fire(self) -> None:
        self.fired = True
        if self._task is not None:
            self._task.cancel()

    def taken_back(self) -> None:
        """Its cancel became the call's ``Timeout``."""
        if self._task is not None:
            self._task.uncancel()

    def stop(self) -> None:
        self._handle.cancel()


def _check_timeout(timeout: Any) -> None:
    """A timeout must be a positive, finite number of seconds (an int or float of any kind)."""
    try:
        valid = (
            not isinstance(timeout, bool)
            and isinstance(timeout, int | float)
            and math.isfinite(timeout)
            and timeout > 0
        )
    except OverflowError:  # an int too large for a float
        valid = False
    if not valid:
        raise BadRequestError(
            f"timeout must be a positive number of seconds, not {show(timeout)}", param="timeout"
        )


def _shorter(timeout: Any, bound: float) -> Any:
    """The call's timeout capped at ``bound``; a malformed one is left for the caller's check."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        return timeout
    return min(timeout, bound)


async def _acquire_within(
    slots: asyncio.Semaphore, deadline: float, request: ChatRequest, setting: str, size: int | None
) -> None:
    """Take a slot; the wait counts against the call's deadline (``Timeout`` when it passes first)."""
    try:
        async with asyncio.timeout_at(deadline):
            await slots.acquire()
    except TimeoutError:
        raise Timeout(
            f"{request.model}: no free slot within timeout={request.timeout:g}s ({setting}={size} calls "
            f"were in flight all that time); raise {setting}, or the timeout"
        ) from None


def _include_usage(stream_options: Any, stream: bool) -> bool:
    """OpenAI's ``stream_options``: only with ``stream=True``; ``include_usage`` asks for usage."""
    if stream_options is None:
        return False
    if not stream:
        raise BadRequestError("stream_options is only allowed with stream=True", param="stream_options")
    if not isinstance(stream_options, Mapping) or not isinstance(
        stream_options.get("include_usage", False), bool
    ):
        raise BadRequestError(
            'stream_options must be an object like {"include_usage": true}', param="stream_options"
        )
    return bool(stream_options.get("include_usage", False))


class _FormatterPlugin:
    """A run-time plugin that contributes one formatter (a registered custom template)."""

    def __init__(self, formatter: Any) -> None:
        self.formatter = formatter

    @hookimpl
    def patchwire_formatters(self) -> list[Any]:
        return [self.formatter]


def make_template(
    roles: Mapping[str, Mapping[str, str]] | None,
    initial_prompt_value: str = "",
    final_prompt_value: str = "",
    bos_token: str = "",
    eos_token: str = "",
    *,
    chat_template: str | None = None,
    supports_system_prompt: bool = False,
) -> PromptTemplate:
    """A ``PromptTemplate`` from LiteLLM's ``register_prompt_template`` keyword arguments, checked
    field by field."""
    if chat_template is not None and not isinstance(chat_template, str):
        raise BadRequestError(
            f"chat_template must be a string (a Jinja template), not {show(chat_template)}",
            param="chat_template",
        )
    if not isinstance(supports_system_prompt, bool):
        raise BadRequestError(
            f"supports_system_prompt must be true or false, not {show(supports_system_prompt)}",
            param="supports_system_prompt",
        )
    built: dict[str, RoleTemplate] = {}
    for role, spec in (roles or {}).items():
        if not isinstance(spec, Mapping):
            raise BadRequestError(
                f"roles.{role} must be an object with pre_message/post_message",
                param=f"roles.{role}",
            )
        unknown = set(spec) - {"pre_message", "post_message"}
        if unknown:
            raise BadRequestError(
                f"roles.{role} has unknown keys {sorted(unknown)}; use pre_message and post_message",
                param=f"roles.{role}",
            )
        for key in ("pre_message", "post_message"):
            if not isinstance(spec.get(key, ""), str):
                raise BadRequestError(f"roles.{role}.{key} must be a string", param=f"roles.{role}")
        built[role] = RoleTemplate(spec.get("pre_message", ""), spec.get("post_message", ""))
    for key, value in (
        ("initial_prompt_value", initial_prompt_value),
        ("final_prompt_value", final_prompt_value),
        ("bos_token", bos_token),
        ("eos_token", eos_token),
    ):
        if not isinstance(value, str):
            raise BadRequestError(f"{key} must be a string", param=key)
    return PromptTemplate(
        roles=built,
        initial_prompt_value=initial_prompt_value,
        final_prompt_value=final_prompt_value,
        bos_token=bos_token,
        eos_token=eos_token,
        chat_template=chat_template,
        supports_system_prompt=supports_system_prompt,
    )


def template_from_tokenizer_config(config: Any, supports_system_prompt: bool = False) -> PromptTemplate:
    """A ``PromptTemplate`` holding a model's Hugging Face chat template, from its ``tokenizer_config``
    (``chat_template`` as a string or as HF's list of named templates; tokens as strings or as HF's
    ``{"content": ...}`` objects)."""
    if not isinstance(config, Mapping):
        raise BadRequestError(
            'tokenizer_config must be an object like {"chat_template": "...", "bos_token": "<s>", '
            f'"eos_token": "</s>"}}, not {show(config)}',
            param="tokenizer_config",
        )
    chat_template = config.get("chat_template")
    if isinstance(chat_template, list | tuple):  # HF: [{"name": "default", "template": "..."}, ...]
        named = {t.get("name"): t.get("template") for t in chat_template if isinstance(t, Mapping)}
        chat_template = named.get("default")
    if not isinstance(chat_template, str) or not chat_template.strip():
        raise BadRequestError(
            "tokenizer_config.chat_template must be the model's Jinja chat template (a non-empty string, "
            "or a list of named templates with one named 'default')",
            param="tokenizer_config.chat_template",
        )
    tokens = {}
    for key in ("bos_token", "eos_token"):
        value = config.get(key)
        if isinstance(value, Mapping):  # HF's serialized AddedToken
            value = value.get("content")
        if value is not None and not isinstance(value, str):
            raise BadRequestError(
                f"tokenizer_config.{key} must be a string, not {show(value)}", param=f"tokenizer_config.{key}"
            )
        tokens[key] = value or ""
    return make_template(
        None,
        bos_token=tokens["bos_token"],
        eos_token=tokens["eos_token"],
        chat_template=chat_template,
        supports_system_prompt=supports_system_prompt,
    )
