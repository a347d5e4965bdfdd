"""The Replicate provider: every LLM on Replicate behind patchwire's ``Provider`` protocol.

``complete`` creates the prediction with a short ``Prefer: wait`` (a fast model answers in that one round
trip) and polls ``urls.get`` while it is not terminal. ``stream`` creates it with ``"stream": true`` and
reads its server-sent events. Either way the call's deadline (``timeout=``) bounds everything, and a call
that ends early (cancelled task, deadline, closed stream, error) cancels its prediction upstream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from patchwire.breaker import CircuitBreaker
from patchwire.errors import ConfigError, PatchwireError, RateLimitError, ServiceUnavailableError, Timeout
from patchwire.interfaces import ProviderCall, ProviderContext
from patchwire.ratelimit import RateGate
from patchwire.thinking import ReasoningSplitter
from patchwire.types import ChatChunk, ChatResponse, InputSchema, ModelRef, Usage

from . import cancel
from .api import SCHEMAS, Api
from .create import create_times
from .deadline import CallDeadline
from .errors import http_error
from .files import FileUploads, needs_upload
from .keys import resolve_key
from .links import Links, chosen_base
from .output import output_pieces
from .predictions import TERMINAL, PredictionJob
from .recovery import Claims
from .refs import CreateTarget, create_target, parse_ref
from .responses import ChunkMaker, chat_response, finish_reason, usage_of
from .route import Route
from .schema import deployment_version_path, input_schema_from_openapi, openapi_of, schema_path
from .streaming import OutputFollower

log = logging.getLogger("patchwire")
T = TypeVar("T")

#: Seconds a create holds the connection (``Prefer: wait=N``): Replicate's longest, so a prediction of up
#: to a minute costs one request, not a create and a string of polls against the account's read limit.
#: A call cancelled meanwhile cuts the create and finds the prediction to cancel in the list (``cancel``).
#: ``ReplicateProvider(prefer_wait=0)`` sends no ``Prefer`` header and polls from the start.
PREFER_WAIT = 60
#: A schema fetch that takes longer than this is given up (the call goes on without a schema).
SCHEMA_BUDGET = 10.0
#: Longest ``Router.aclose()`` waits for cancels still being retried after their callers left.
DRAIN_BUDGET = 10.0
#: Most (model, API base, key) routes kept; beyond it they are made again as calls come.
MAX_ROUTES = 256


class ReplicateProvider:
    """Serves model strings ``replicate/...``; see ``refs`` for the reference forms."""

    name = "replicate"
    #: Every call ends by its deadline (``deadline.CallDeadline``): the router sets no timer of its own.
    keeps_deadline = True

    def __init__(self, *, prefer_wait: int = PREFER_WAIT) -> None:
        if not 0 <= prefer_wait <= 60:
            raise ValueError("prefer_wait must be between 0 (no Prefer: wait, poll at once) and 60 seconds")
        self.prefer_wait = prefer_wait
        self._targets: dict[ModelRef, CreateTarget] = {}
        self._claims = Claims()
        self._files = FileUploads()
        #: Models found not to be official, per (API base, owner/name): created by their latest version.
        self._pinned: dict[tuple[str, str], CreateTarget] = {}
        #: Per (API base, key), for calls whose router has no rate gate: the pace 429s teach is the
        #: account's, so its calls keep to it together rather than each backing off alone.
        self._gates: dict[tuple[str, str], RateGate] = {}
        #: Per API base: fail fast while it refuses connections (see patchwire.breaker).
        self._breakers: dict[str, CircuitBreaker] = {}
        #: Per (model, API base, key): what each call there needs that does not change (``route``).
        self._routes: dict[tuple[str, str | None, str], Route] = {}

    def __repr__(self) -> str:
        return f"ReplicateProvider(prefer_wait={self.prefer_wait})"

    #: What ``with_options`` takes (``Router(provider_options={"replicate": {...}})``).
    OPTIONS = ("prefer_wait",)

    def with_options(self, **options: Any) -> ReplicateProvider:
        """A provider like this one with ``options`` set: ``prefer_wait`` (seconds a create waits for
        the answer, 1-60; 0 creates without waiting and polls from the start)."""
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise ConfigError(
                f"provider_options.replicate: unknown option(s) {', '.join(unknown)}; the replicate "
                f"provider takes {', '.join(self.OPTIONS)}",
                param=f"provider_options.replicate.{unknown[0]}",
            )
        prefer_wait = options.get("prefer_wait", self.prefer_wait)
        if isinstance(prefer_wait, bool) or not isinstance(prefer_wait, int) or not 0 <= prefer_wait <= 60:
            raise ConfigError(
                "provider_options.replicate.prefer_wait must be a whole number of seconds from 0 (create "
                "without waiting, then poll) to 60",
                param="provider_options.replicate.prefer_wait",
            )
        return ReplicateProvider(prefer_wait=prefer_wait)

    async def drain(self) -> None:
        """Let this loop's cancels still being retried in the background finish (up to
        ``DRAIN_BUDGET`` seconds) before the router closes the session they use."""
        await cancel.drain(DRAIN_BUDGET)

    # -- Provider protocol ---------------------------------------------------------------------

    def parse_model(self, raw: str) -> ModelRef:
        return parse_ref(raw)

    async def input_schema(self, ref: ModelRef, context: ProviderContext) -> InputSchema | None:
        route = self._route(ref, context)  # before any network call: no key, no request
        path = schema_path(ref)
        if path is None:
            return None
        base = route.links.base
        loop = asyncio.get_running_loop()
        budget_end = min(context.deadline, loop.time() + SCHEMA_BUDGET)
        api = Api(context.session, route.auth, budget_end, None, route.label, None, route.breaker)
        try:
            async with asyncio.timeout_at(budget_end):
                body = await self._read_schema(api, base + path, ref)
                if ref.deployment and body is not None:
                    version_path = deployment_version_path(body)
                    body = None
                    if version_path is not None:
                        body = await self._read_schema(api, base + version_path, ref)
        except TimeoutError:
            if loop.time() >= context.deadline:
                raise Timeout(
                    f"replicate/{ref.raw}: no answer from Replicate before the deadline (fetching the "
                    "model's input schema); check api_base, or pass a larger timeout="
                ) from None
            log.debug("patchwire: replicate schema for %s timed out; going on without", ref.raw)
            return None
        schema = input_schema_from_openapi(openapi_of(body)) if body is not None else None
        log.debug("patchwire: replicate schema for %s: %s", ref.raw, list(schema.names) if schema else None)
        return schema

    async def _read_schema(self, api: Api, url: str, ref: ModelRef) -> Any:
        """The JSON at ``url``; None where it cannot be had (the call then goes on without a schema,
        and the create gives the definitive answer). A refused key raises at once."""
        what = f"model {ref.raw}"
        try:
            answer = await api.request("GET", url, rule=SCHEMAS, what=what)
        except (ServiceUnavailableError, RateLimitError) as exc:
            log.debug("patchwire: replicate schema at %s not read: %s", url, exc.message)
            return None
        if answer.status < 300:
            return answer.json()
        if answer.status in (401, 403):
            raise http_error(answer.status, answer.body, answer.headers, what=what)
        return None

    def preview(self, call: ProviderCall) -> list[dict[str, Any]]:
        """The requests ``complete``/``stream`` would send first, as ``{method, url, headers, body}``
        dicts with the key redacted: an upload per large data: URL, then the create."""
        ref = call.request.ref
        target = self._targets.get(ref) or create_target(ref)
        base = Links.of(call.context.api_base).base
        auth = "Bearer <redacted>"
        sent: list[dict[str, Any]] = []
        inputs = dict(call.inputs)
        if needs_upload(inputs):
            sent.append(
                {
                    "method": "POST",
                    "url": f"{base}/v1/files",
                    "headers": {"Authorization": auth, "Content-Type": "multipart/form-data"},
                    "body": "one upload per data: URL over 256 KB; the input gets the file's urls.get",
                }
            )
        body: dict[str, Any] = {"input": inputs}
        if target.version is not None:
            body["version"] = target.version
        cancel_after, wait = create_times(call.request.stream, self.prefer_wait, call.request.timeout)
        headers = {
            "Authorization": auth,
            "Content-Type": "application/json",
            "Cancel-After": f"{cancel_after}s",
        }
        if call.request.stream:
            body["stream"] = True
        elif wait:
            headers["Prefer"] = f"wait={wait}"
        sent.append({"method": "POST", "url": base + target.path, "headers": headers, "body": body})
        return sent

    def complete(self, call: ProviderCall) -> Coroutine[Any, Any, ChatResponse]:
        # Not a coroutine itself: the caller awaits ``_bounded``'s directly, one coroutine fewer on
        # the call's path (each costs on the call's start and on every resume beneath it).
        return self._bounded(call, False, _answer)

    async def stream(self, call: ProviderCall) -> AsyncIterator[ChatChunk]:
        job, prediction = await self._bounded(call, True, _job_and_prediction)
        if job.status in TERMINAL:
            error = job.result_error(prediction)
            if error is not None:
                raise error
        chunks = self._chunks(call, job, prediction)
        # Started here (its first chunk needs no I/O), so closing the stream before reading anything,
        # or dropping it, still runs its cleanup: an unstarted generator's aclose() does nothing.
        first = await chunks.__anext__()
        return _Started(first, chunks)

    # -- internals -----------------------------------------------------------------------------

    async def _bounded(
        self,
        call: ProviderCall,
        stream: bool,
        result: Callable[[ProviderCall, PredictionJob, dict[str, Any]], T],
    ) -> T:
        """Create the prediction (and, unless streaming, follow it to the end) within the deadline;
        whatever ends this early (deadline, cancellation, error) cancels the prediction upstream.
        Returns ``result`` of the call's job and the prediction's latest object."""
        job = self._job(call)
        deadline = CallDeadline(job, stream=stream)
        try:
            # The create (``Prefer: wait`` unless streaming) returns the prediction's first object.
            prediction = await job.send(stream)
            status = job.observe(prediction)
            if deadline.passed:  # the create answered in its grace, after the deadline
                deadline.stop()
                prediction = await self._late(call, job, prediction, stream=stream)
            elif not stream and status not in TERMINAL:
                prediction = await job.follow(prediction)
        except BaseException as exc:
            deadline.stop()  # before awaiting the cleanup, which the timer must not cut
            timed_out = isinstance(exc, asyncio.CancelledError) and deadline.expired()
            await job.abandon()
            if timed_out:
                raise self._timeout(call, job) from None
            raise
        finally:
            deadline.stop()
        return result(call, job, prediction)

    async def _late(
        self, call: ProviderCall, job: PredictionJob, prediction: dict[str, Any], *, stream: bool
    ) -> dict[str, Any]:
        """A create that answered just after the deadline: a succeeded prediction is the answer (its
        output exists, and is billed), not a "canceled" that never was; anything else is cancelled."""
        if not stream and prediction.get("status") == "succeeded":
            log.info(
                "patchwire: replicate prediction %s succeeded just after the deadline; returning it",
                job.prediction_id,
            )
            return prediction
        await job.abandon()
        raise self._timeout(call, job)

    def _job(self, call: ProviderCall) -> PredictionJob:
        context = call.context
        route = self._route(call.request.ref, context)
        gate = context.gate
        return PredictionJob(
            context.session,
            route,
            call.inputs,
            context.deadline,
            route.gate if gate is None else gate,
            context.retries,
        )

    def _route(self, ref: ModelRef, context: ProviderContext) -> Route:
        """The call's ``Route``: looked up (made on a model, API base and key's first call)."""
        key = context.api_key or resolve_key(None)
        base = chosen_base(context.api_base)
        # By the reference's text, which ``parse_ref`` made it from (a string keeps its hash).
        route = self._routes.get((ref.raw, base, key))
        if route is None:
            route = self._new_route(ref, base, key)
        return route

    def _new_route(self, ref: ModelRef, base: str | None, key: str) -> Route:
        checked = resolve_key(key)  # a key is checked once, before its route is kept
        target = self._targets.get(ref)
        if target is None:
            target = self._targets[ref] = create_target(ref)
        links = Links.of(base)
        if target.version is None and target.model is not None:
            target = self._pinned.get((links.base, target.model), target)
        gate = self._gates.get((links.base, checked))
        if gate is None:
            # The pace 429s teach is the account's: calls without a router's gate keep to it together.
            gate = self._gates[links.base, checked] = RateGate()
        route = Route(
            target=target,
            links=links,
            key=checked,
            gate=gate,
            breaker=self._breaker(links.base),
            label=f"replicate/{ref.raw}",
            claims=self._claims,
            uploads=self._files,
            prefer_wait=self.prefer_wait,
            remember=self._remember_version,
        )
        routes = self._routes
        if len(routes) >= MAX_ROUTES:  # keys and bases come from callers: keep the memory bounded
            routes.clear()
        routes[ref.raw, base, key] = route
        return route

    def _breaker(self, base: str) -> CircuitBreaker:
        """The circuit breaker of one API base, shared by this provider's calls."""
        breaker = self._breakers.get(base)
        if breaker is None:
            breaker = self._breakers[base] = CircuitBreaker()
        return breaker

    def _remember_version(self, base: str, target: CreateTarget) -> None:
        """A model found to run only by version: this provider's later calls create there at once."""
        if target.model is not None:
            self._pinned[base, target.model] = target
            self._routes.clear()  # their targets are worked out again

    async def _stream_usage(
        self, job: PredictionJob, prediction: dict[str, Any], inputs: Mapping[str, Any], tokens: int
    ) -> Usage:
        """The finished prediction's token counts (one GET: the stream carries no metrics); where
        Replicate reports none (a create answered ``"metrics": {}``, a model without counts), the
        output tokens are the chunks streamed."""
        if not _counts_output(prediction):
            try:
                async with asyncio.timeout_at(min(job.deadline, asyncio.get_running_loop().time() + 5)):
                    prediction = await job.get()
            except (TimeoutError, PatchwireError) as exc:
                log.debug("patchwire: replicate usage of %s estimated (%s)", job.prediction_id, exc)
        if not _counts_output(prediction):
            prediction = {**prediction, "output": [""] * tokens}
        return usage_of(prediction, inputs, "")

    def _timeout(self, call: ProviderCall, job: PredictionJob) -> Timeout:
        if job.prediction_id is None:
            where = " (no prediction was made)"
        elif job.status in TERMINAL:
            # It ended on its own, just too late: say how, never "canceled" for what finished.
            where = f" (prediction {job.prediction_id} ended {job.status} after the deadline)"
        else:
            where = f" (prediction {job.prediction_id}, last status {job.status}; cancel requested)"
        return Timeout(
            f"{job.label} did not finish within timeout={call.request.timeout:g}s{where}; pass a "
            "larger timeout= (a cold boot can take minutes)",
            provider="replicate",
            prediction_id=job.prediction_id,
        )

    async def _chunks(
        self,
        call: ProviderCall,
        job: PredictionJob,
        prediction: dict[str, Any],
    ) -> AsyncGenerator[ChatChunk, None]:
        maker = ChunkMaker(job.prediction_id or "", job.label)
        splitter = ReasoningSplitter()
        tokens = 0
        try:
            yield maker.role()
            if job.status in TERMINAL:
                # A model whose output is one string (not a token iterator) streams as one chunk.
                for text in output_pieces(prediction.get("output"), job.label, job.prediction_id):
                    tokens += 1
                    for chunk in _split(maker, splitter, text):
                        yield chunk
            else:
                follower = OutputFollower(job)
                try:
                    while True:
                        try:
                            batch = await follower.next_batch()
                        except TimeoutError:
                            raise self._timeout(call, job) from None
                        if batch is None:
                            break
                        tokens += len(batch)  # one output event is one token (or a few)
                        for text in batch:
                            if not text:
                                continue
                            if splitter.passthrough:
                                yield maker.content(text)
                            else:
                                for chunk in _split(maker, splitter, text):
                                    yield chunk
                finally:
                    await follower.close()
            reasoning, answer = splitter.end()
            if reasoning:
                yield maker.reasoning(reasoning)
            if answer:
                yield maker.content(answer)
            yield maker.finish(finish_reason(tokens, call.inputs))
            if call.request.include_usage:
                yield maker.usage(await self._stream_usage(job, prediction, call.inputs, tokens))
        finally:
            if not job.finished:
                await job.abandon()


def _answer(call: ProviderCall, job: PredictionJob, prediction: dict[str, Any]) -> ChatResponse:
    """A finished prediction as the call's response; one that did not succeed raises its error."""
    if prediction.get("status") != "succeeded":
        error = job.result_error(prediction)
        if error is not None:
            raise error
    return chat_response(prediction, job.label, call.inputs)


def _job_and_prediction(
    call: ProviderCall, job: PredictionJob, prediction: dict[str, Any]
) -> tuple[PredictionJob, dict[str, Any]]:
    return job, prediction


def _counts_output(prediction: Mapping[str, Any]) -> bool:
    metrics = prediction.get("metrics")
    return isinstance(metrics, Mapping) and "output_token_count" in metrics


def _split(maker: ChunkMaker, splitter: ReasoningSplitter, text: str) -> list[ChatChunk]:
    """The chunks one piece of output makes: inline ``<think>`` reasoning apart from the answer."""
    reasoning, answer = splitter.feed(text)
    chunks = []
    if reasoning:
        chunks.append(maker.reasoning(reasoning))
    if answer:
        chunks.append(maker.content(answer))
    return chunks


class _Started:
    """An async generator already advanced to its first item: that item, then the rest."""

    __slots__ = ("_first", "_gen")

    def __init__(self, first: ChatChunk, gen: AsyncGenerator[ChatChunk, None]) -> None:
        self._first: ChatChunk | None = first
        self._gen = gen

    def __aiter__(self) -> _Started:
        return self

    async def __anext__(self) -> ChatChunk:
        first = self._first
        if first is not None:
            self._first = None
            return first
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        self._first = None
        await self._gen.aclose()
