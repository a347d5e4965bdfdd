"""Prometheus metrics for calls, for the proxy's ``GET /metrics`` and for library users.

Needs the ``patchwire[metrics]`` extra (``prometheus-client``). A ``Metrics`` keeps its own registry::

    metrics = patchwire.metrics.Metrics()
    plugins = patchwire.get_plugins()
    plugins.register(metrics.plugin(), name="metrics")    # every call of routers on these plugins
    ...
    text = metrics.render()                              # Prometheus' text format

What it counts: requests by model, status and route; latency and time-to-first-token histograms;
tokens in and out; calls (predictions) in flight; upstream 429s and retries; fallbacks and cooldowns.
Labels are bounded: models come from the router's configuration or the caller's code, never from a
proxy client (the proxy maps names it does not serve to ``other``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from patchwire import observe
from patchwire.errors import ConfigError, PatchwireError
from patchwire.hookspecs import hookimpl
from patchwire.interfaces import CallNext, CallResult, ProviderCall
from patchwire.types import ChatChunk, ChatResponse, Usage

#: Seconds: LLM calls take from a fraction of a second to many minutes (a cold boot).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
#: The ``route`` label of calls made through the library (the proxy labels requests by path).
LIBRARY_ROUTE = "library"


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise ConfigError(
            "metrics need the metrics extra: pip install 'patchwire[metrics]'", param="metrics"
        ) from None
    return prometheus_client


def available() -> bool:
    """Whether ``prometheus-client`` is installed."""
    try:
        _prometheus()
    except ConfigError:
        return False
    return True


class Metrics:
    """One registry of patchwire's metrics (see the module docstring)."""

    def __init__(self, *, namespace: str = "patchwire") -> None:
        prom = _prometheus()
        self._prom = prom
        self.registry = registry = prom.CollectorRegistry(auto_describe=True)
        n = namespace
        self.requests = prom.Counter(
            f"{n}_requests",
            "Requests by model, status and route",
            ("model", "status", "route"),
            registry=registry,
        )
        self.latency = prom.Histogram(
            f"{n}_request_duration_seconds",
            "Time from request to last byte, by model and route",
            ("model", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttft = prom.Histogram(
            f"{n}_time_to_first_token_seconds",
            "Time from call to first content of a stream, by model",
            ("model",),
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.tokens = prom.Counter(
            f"{n}_tokens",
            "Tokens in (prompt) and out (completion), by model",
            ("model", "direction"),
            registry=registry,
        )
        self.in_flight = prom.Gauge(
            f"{n}_predictions_in_flight",
            "Calls (predictions) running now, by model",
            ("model",),
            registry=registry,
        )
        self.upstream_rate_limited = prom.Counter(
            f"{n}_upstream_rate_limited", "429 answers from providers", ("provider",), registry=registry
        )
        self.upstream_retries = prom.Counter(
            f"{n}_upstream_retries", "Requests to providers sent again", ("provider",), registry=registry
        )
        self.fallbacks = prom.Counter(
            f"{n}_fallbacks",
            "Calls moved on to a fallback, by the model they left",
            ("model",),
            registry=registry,
        )
        self.cooldowns = prom.Counter(
            f"{n}_cooldowns", "Deployments put in cooldown", ("deployment",), registry=registry
        )
        self._events = {
            observe.RATE_LIMITED: self.upstream_rate_limited,
            observe.RETRY: self.upstream_retries,
            observe.FALLBACK: self.fallbacks,
            observe.COOLDOWN: self.cooldowns,
        }
        observe.listen(self)

    def on_event(self, kind: str, label: str) -> None:
        counter = self._events.get(kind)
        if counter is not None:
            counter.labels(label).inc()

    def close(self) -> None:
        """Stop counting events (calls already wrapped still count until they end)."""
        observe.forget(self)

    def render(self) -> bytes:
        """Every metric in Prometheus' text format."""
        body: bytes = self._prom.generate_latest(self.registry)
        return body

    @property
    def content_type(self) -> str:
        return str(self._prom.CONTENT_TYPE_LATEST)

    def plugin(self, *, count_requests: bool = True) -> MetricsPlugin:
        """A run-time plugin whose call wrapper feeds these metrics. ``count_requests=False`` leaves
        requests and latency to someone else (the proxy counts them per HTTP request)."""
        return MetricsPlugin(MetricsWrapper(self, count_requests=count_requests))

    def count_usage(self, model: str, usage: Usage | None) -> None:
        if usage is not None:
            self.tokens.labels(model, "in").inc(usage.prompt_tokens)
            self.tokens.labels(model, "out").inc(usage.completion_tokens)


def status_of(exc: BaseException) -> str:
    """The ``status`` label of a call that raised: the HTTP status its error maps to."""
    if isinstance(exc, PatchwireError):
        return str(exc.status_code)
    return "500" if isinstance(exc, Exception) else "499"  # cancelled: the caller went away


class MetricsWrapper:
    """The call wrapper behind ``Metrics.plugin()``."""

    name = "metrics"

    def __init__(self, metrics: Metrics, *, count_requests: bool) -> None:
        self.metrics = metrics
        self.count_requests = count_requests

    async def wrap(self, call: ProviderCall, call_next: CallNext) -> CallResult:
        metrics = self.metrics
        model = call.request.model
        started = time.monotonic()
        gauge = metrics.in_flight.labels(model)
        gauge.inc()
        try:
            result = await call_next(call)
        except BaseException as exc:
            gauge.dec()
            self._done(model, status_of(exc), started)
            raise
        if isinstance(result, ChatResponse):
            gauge.dec()
            metrics.count_usage(model, result.usage)
            self._done(model, "200", started)
            return result
        return _CountedStream(self, model, started, result)

    def _done(self, model: str, status: str, started: float) -> None:
        if self.count_requests:
            self.metrics.requests.labels(model, status, LIBRARY_ROUTE).inc()
            self.metrics.latency.labels(model, LIBRARY_ROUTE).observe(time.monotonic() - started)


class _CountedStream:
    """A stream that records time to first token, tokens and its end (however it ends)."""

    __slots__ = ("_ended", "_first", "_inner", "_model", "_outputs", "_started", "_usage", "_wrapper")

    def __init__(
        self, wrapper: MetricsWrapper, model: str, started: float, inner: AsyncIterator[ChatChunk]
    ) -> None:
        self._wrapper = wrapper
        self._model = model
        self._started = started
        self._inner = inner
        self._first = True
        self._outputs = 0
        self._usage: Usage | None = None
        self._ended = False

    def __aiter__(self) -> _CountedStream:
        return self

    async def __anext__(self) -> ChatChunk:
        try:
            chunk = await self._inner.__anext__()
        except StopAsyncIteration:
            self._end("200")
            raise
        except BaseException as exc:
            self._end(status_of(exc))
            raise
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                if self._first:
                    self._first = False
                    self._wrapper.metrics.ttft.labels(self._model).observe(time.monotonic() - self._started)
                self._outputs += 1
        return chunk

    async def aclose(self) -> None:
        try:
            aclose = getattr(self._inner, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            self._end("499")  # closed before its end: the client went away

    def _end(self, status: str) -> None:
        if self._ended:
            return
        self._ended = True
        metrics = self._wrapper.metrics
        metrics.in_flight.labels(self._model).dec()
        # Without a usage chunk, each content chunk counts as one token out (one event is one token).
        usage = self._usage or Usage(0, self._outputs, self._outputs)
        metrics.count_usage(self._model, usage)
        self._wrapper._done(self._model, status, self._started)


class MetricsPlugin:
    """A run-time plugin contributing one metrics wrapper."""

    def __init__(self, wrapper: MetricsWrapper) -> None:
        self.wrapper = wrapper

    @hookimpl
    def patchwire_call_wrappers(self) -> list[MetricsWrapper]:
        return [self.wrapper]
