"""The proxy's ``GET /metrics`` (Prometheus' text format) and its per-request counting.

Requests are counted by the route they matched (never the raw path) and by model alias (names the
config does not serve count as ``other``), so no client can grow the label sets. Everything a call does
inside (tokens, time to first token, in flight, upstream 429s) comes from ``patchwire.metrics``'
call wrapper, registered on the proxy's plugins while the app runs.
"""

from __future__ import annotations

import functools

from aiohttp import web

from patchwire.manager import Plugins
from patchwire.metrics import Metrics, available
from patchwire.proxy.error_responses import json_error
from patchwire.proxy.state import STATE, ProxyState

PATH = "/metrics"


def install(app: web.Application, plugins: Plugins) -> Metrics | None:
    """Count this app's requests and serve ``/metrics``; None (and a 501 there) without
    ``prometheus-client``."""
    app.router.add_get(PATH, serve)
    if not available():
        return None
    metrics = Metrics()
    name = plugins.register(metrics.plugin(count_requests=False), name=f"proxy-metrics-{id(metrics)}")
    app.on_cleanup.append(functools.partial(_uninstall, plugins, name, metrics))
    return metrics


async def _uninstall(plugins: Plugins, name: str, metrics: Metrics, app: web.Application) -> None:
    plugins.unregister(name)
    metrics.close()


async def serve(request: web.Request) -> web.Response:
    metrics = request.app[STATE].metrics
    if metrics is None:
        return json_error(
            501, "metrics need prometheus-client on the proxy: pip install 'patchwire[metrics]'"
        )
    return web.Response(body=metrics.render(), headers={"Content-Type": metrics.content_type})


def count(
    state: ProxyState, request: web.Request, model: str | None, status: int | str, seconds: float
) -> None:
    """One request, once it is answered (or its client went away)."""
    metrics = state.metrics
    if metrics is None:
        return
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "other"
    alias = (
        model if model is not None and model in state.config.routes else ("-" if model is None else "other")
    )
    metrics.requests.labels(alias, str(status), route).inc()
    metrics.latency.labels(alias, route).observe(seconds)
