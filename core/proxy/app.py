"""The proxy as an aiohttp.web application, and the runner that serves it.

``create_app`` builds the application (one ``Router`` for every request); ``serve_app`` runs it on a
socket with the settings that matter: handler cancellation on (a client that goes away cancels its
upstream prediction) and a graceful shutdown (finish in-flight requests for ``grace`` seconds, then
cancel the rest upstream)::

    async with serve_app("config.yaml", host="127.0.0.1", port=0) as url:
        ...  # an OpenAI client with base_url=f"{url}/v1"
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from patchwire.errors import ConfigError, PatchwireError, Timeout
from patchwire.listen import start_site
from patchwire.manager import Plugins, get_plugins
from patchwire.proxy import handlers
from patchwire.proxy import metrics as proxy_metrics
from patchwire.proxy.auth import KeyChecker, bearer_token
from patchwire.proxy.browser import (
    check_origin,
    cors_headers,
    preflight,
    refuse_content_type,
    refuse_host,
)
from patchwire.proxy.config import ProxyConfig, check_models, load_config
from patchwire.proxy.error_responses import from_http, from_patchwire, json_error
from patchwire.proxy.server import GuardedAppRunner
from patchwire.proxy.state import STATE, ProxyState, record_of, start_record
from patchwire.ratelimit import MAX_BACK_OFF, RateGate
from patchwire.redis_limits import RedisLimits
from patchwire.router import Router
from patchwire.safetext import escape

log = logging.getLogger("patchwire.proxy")

DEFAULT_GRACE = 30.0
#: After the grace period, how long cancelled requests get to cancel their predictions upstream.
CANCEL_WAIT = 10.0
#: Paths anyone may call (Kubernetes probes carry no key): they tell nothing beyond "up" or "draining".
PUBLIC_PATHS = frozenset({"/health", "/health/liveness", "/health/liveliness", "/health/readiness"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(
    config: ProxyConfig, *, plugins: Plugins | None = None, grace: float = DEFAULT_GRACE
) -> web.Application:
    """The proxy application for ``config``. ``plugins`` defaults to the installed ones; tests pass
    their own ``patchwire.Plugins()`` with providers registered at run time."""
    plugins = plugins if plugins is not None else get_plugins()
    check_models(config, plugins)
    shared = RedisLimits(config.redis_url) if config.redis_url is not None else None
    gate = None
    if any(v is not None for v in (config.rpm, shared, config.max_back_off)):
        gate = RateGate(
            per_minute=config.rpm,
            burst=config.rpm_burst,
            shared=shared,
            max_back_off=config.max_back_off or MAX_BACK_OFF,
        )
    router = Router(
        plugins=plugins,
        routes=config.routes,
        max_connections=config.max_connections,
        max_concurrency=config.max_concurrency,
        timeout=config.timeout,
        rate_gate=gate,
        provider_options=config.provider_options,
        fallbacks=config.fallbacks,
        num_retries=config.num_retries,
        allowed_fails=config.allowed_fails,
        cooldown_time=config.cooldown_time,
    )
    state = ProxyState(config=config, router=router, checker=KeyChecker(config.keys), grace=grace)
    app = web.Application(client_max_size=config.max_request_size, middlewares=[_middleware])
    app[STATE] = state
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/chat/completions", handlers.chat_completions)
        app.router.add_post(f"{prefix}/completions", handlers.text_completions)
        app.router.add_get(f"{prefix}/models", handlers.list_models)
        app.router.add_get(f"{prefix}/models/{{model}}", handlers.get_model)
    app.router.add_get("/health", handlers.health)
    app.router.add_get("/health/liveness", handlers.health)
    app.router.add_get("/health/liveliness", handlers.health)  # LiteLLM's spelling
    app.router.add_get("/health/readiness", handlers.readiness)
    state.metrics = proxy_metrics.install(app, plugins)
    app.on_response_prepare.append(_cors_headers)
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_close_router)
    if shared is not None:
        app.on_startup.append(functools.partial(_check_redis, shared, config))
        app.on_cleanup.append(functools.partial(_close_redis, shared))
    return app


async def _check_redis(shared: RedisLimits, config: ProxyConfig, app: web.Application) -> None:
    """Refuse to start on a Redis that does not answer, unless ``redis_optional`` says go on alone."""
    try:
        await shared.check()
    except ConfigError as exc:
        if not config.redis_optional:
            raise ConfigError(f"{config.source}: router_settings: {exc.message}", param=exc.param) from None
        log.warning("%s: %s; redis_optional is set, so starting on local limits", config.source, exc.message)


async def _close_redis(shared: RedisLimits, app: web.Application) -> None:
    await shared.aclose()


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browser and auth checks, errors in the OpenAI shape, one log line per request, and in-flight
    tracking."""
    state = request.app[STATE]
    loop = asyncio.get_running_loop()
    started = loop.time()
    record = start_record(request)
    task = asyncio.current_task()
    if task is not None:
        state.in_flight.add(task)
    status: int | str = 500
    try:
        response = await _answer(state, request, handler)
        status = response.status
        return response
    except asyncio.CancelledError:
        if not state.cancelling or task is None:
            status = "disconnected" if not state.draining else "cancelled (shutdown)"
            raise
        # Shutdown outlived the grace period: the prediction is cancelled upstream by now; the client
        # gets an answer it can act on instead of a closed connection.
        task.uncancel()
        status = 503
        return json_error(
            503,
            "the proxy shut down before this request finished (its prediction was cancelled); retry",
            code="shutting_down",
        )
    except ConnectionError:
        status = "disconnected" if not state.draining else "cancelled (shutdown)"
        raise
    finally:
        if task is not None:
            state.in_flight.discard(task)
        proxy_metrics.count(state, request, record.model, status, loop.time() - started)
        # Never the headers or the body: they hold keys and prompts. The path is the client's: escaped.
        log.info(
            "%s %s %s model=%s duration=%.3fs prediction=%s%s",
            escape(request.method, 20),
            escape(request.path),
            status,
            escape(record.model or "-"),
            loop.time() - started,
            escape(record.prediction_id or "-"),
            f" stream_error={escape(record.stream_error)}" if record.stream_error else "",
        )


async def _answer(state: ProxyState, request: web.Request, handler: Handler) -> web.StreamResponse:
    limits = state.config.client_limits
    refusal = refuse_host(request, limits, keyless=not state.checker.enabled)
    if refusal is not None:
        return refusal
    origin, refusal = check_origin(request, limits)
    if refusal is not None:
        return refusal
    record_of(request).cors_origin = origin
    if request.method == "OPTIONS" and origin is not None:
        return preflight(origin)
    authorization = request.headers.get("Authorization")
    public = request.path in PUBLIC_PATHS or (
        request.path == proxy_metrics.PATH and state.config.metrics_public
    )
    if not public and not state.checker.allows(authorization):
        return json_error(
            401,
            "missing or wrong API key; send the proxy's key as 'Authorization: Bearer <key>' "
            "(OpenAI clients: api_key=...)",
            code="invalid_api_key",
        )
    refusal = refuse_content_type(request)
    if refusal is not None:
        return refusal
    ticket = None
    try:
        if request.method == "POST":
            await _read_body(request, limits.body_timeout)
            if state.key_limiter.enabled:
                key = bearer_token(authorization) if state.checker.enabled else None
                ticket = state.key_limiter.acquire(key)
        return await handler(request)
    except PatchwireError as exc:
        record = record_of(request)
        record.prediction_id = record.prediction_id or exc.prediction_id  # the log names it
        return from_patchwire(exc, hide=state.upstream_bases)
    except web.HTTPException as exc:
        return from_http(exc, max_request_size=state.config.max_request_size)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        # Whatever a client sends, it gets no stack trace: the log has it.
        log.exception("unexpected error handling %s %s", escape(request.method, 20), escape(request.path))
        return json_error(500, "internal error in the proxy; its log has the details")
    finally:
        if ticket is not None:
            state.key_limiter.release(ticket)


async def _read_body(request: web.Request, timeout: float) -> None:
    """Read the whole body within ``timeout`` (aiohttp keeps it: the handler's read returns it)."""
    try:
        async with asyncio.timeout(timeout):
            await request.read()
    except TimeoutError:
        raise Timeout(
            f"the request body did not arrive within {timeout:g}s (general_settings.client_body_timeout)",
            code="body_timeout",
        ) from None


async def _cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Answers to an allowed cross origin say so (before any response, streams included, is sent)."""
    origin = record_of(request).cors_origin
    if origin is not None:
        response.headers.update(cors_headers(origin))


async def _drain(app: web.Application) -> None:
    """Shutdown: let in-flight requests finish for the grace period, then cancel the rest (which
    cancels their predictions upstream)."""
    state = app[STATE]
    state.draining = True
    pending = {t for t in state.in_flight if not t.done()}
    if not pending:
        return
    log.info("shutting down: waiting up to %gs for %d request(s) in flight", state.grace, len(pending))
    _, pending = await asyncio.wait(pending, timeout=state.grace)
    if pending:
        log.warning("grace period over: cancelling %d request(s) and their predictions", len(pending))
        state.cancelling = True
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=CANCEL_WAIT)


async def _close_router(app: web.Application) -> None:
    state = app[STATE]
    if state.owns_router:
        await state.router.aclose()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(config: ProxyConfig, host: str, allow_unauthenticated: bool) -> None:
    """Refuse to serve without keys beyond this machine unless explicitly allowed."""
    if config.keys:
        return
    if is_loopback(host):
        log.warning("no API keys configured: anyone on this machine can use the proxy")
        return
    if not allow_unauthenticated:
        raise ConfigError(
            f"{config.source}: no API key is configured (general_settings.master_key or keys), and "
            f"host {host} is reachable from other machines; add a key, listen on 127.0.0.1, or pass "
            "--allow-unauthenticated"
        )
    log.warning("no API keys configured and listening on %s: anyone who can reach it can use it", host)


@contextlib.asynccontextmanager
async def serve_app(
    config: ProxyConfig | str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 4000,
    plugins: Plugins | None = None,
    grace: float = DEFAULT_GRACE,
    allow_unauthenticated: bool = False,
) -> AsyncIterator[str]:
    """Serve the proxy on ``host:port`` (``port=0``: any free port) and yield its base URL; leaving the
    block shuts it down gracefully."""
    if not isinstance(config, ProxyConfig):
        config = load_config(config)
    check_exposure(config, host, allow_unauthenticated)
    app = create_app(config, plugins=plugins, grace=grace)
    runner = GuardedAppRunner(
        app,
        config.client_limits,
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=grace,
    )
    await runner.setup()
    try:
        yield await start_site(runner, host, port)
    finally:
        await runner.cleanup()
