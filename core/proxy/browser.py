"""What a web page may make a browser send to the proxy: nothing, unless its origin is configured.

A page on another site can make its visitor's browser POST to ``http://127.0.0.1:4000`` (a "simple"
request with ``Content-Type: text/plain`` needs no preflight), and with DNS rebinding it can read the
answer too: its own host name then resolves to 127.0.0.1, and the browser sends ``Host: evil.example``.
A proxy without keys would bill those calls to its Replicate key. So:

- a POST must say ``Content-Type: application/json`` (which a page cannot send cross-site without a
  CORS preflight, and the preflight fails unless the origin is configured);
- a request with an ``Origin`` that is neither the proxy's own nor a configured CORS origin is refused;
- without keys, only loopback ``Host`` names (and configured ``allowed_hosts``) are answered.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from patchwire.proxy.error_responses import json_error
from patchwire.proxy.limits import ClientLimits

PREFLIGHT_HEADERS = "Authorization, Content-Type"
PREFLIGHT_MAX_AGE = "600"


def host_name(host: str) -> str:
    """The name part of a ``Host`` header value (``[::1]:4000`` -> ``::1``), lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def same_origin(origin: str, host: str | None) -> bool:
    """Whether ``origin`` (``scheme://host[:port]``) names the host the request was sent to."""
    if not host:
        return False
    scheme, sep, rest = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and rest.lower() == host.strip().lower()


def refuse_host(request: web.Request, limits: ClientLimits, keyless: bool) -> web.Response | None:
    """Without keys, a 403 for a ``Host`` that is neither loopback nor an allowed host."""
    if not keyless:
        return None
    name = host_name(request.headers.get("Host", ""))
    if is_loopback_name(name) or name in limits.allowed_hosts:
        return None
    return json_error(
        403,
        "this proxy has no API key, so it only answers requests addressed to localhost or a loopback "
        "address (the Host header); set general_settings.master_key, or list the host name in "
        "general_settings.allowed_hosts",
        code="host_not_allowed",
    )


def allowed_origin(request: web.Request, limits: ClientLimits) -> str | None:
    """The request's ``Origin`` when it is a configured CORS origin (answers then carry CORS
    headers); None when there is no ``Origin`` or it is the proxy's own."""
    origin = request.headers.get("Origin")
    if origin is None or same_origin(origin, request.headers.get("Host")):
        return None
    if origin in limits.cors_origins or "*" in limits.cors_origins:
        return origin
    raise _CrossOrigin


class _CrossOrigin(Exception):
    """A browser request from an origin that is not allowed."""


def check_origin(request: web.Request, limits: ClientLimits) -> tuple[str | None, web.Response | None]:
    """(the allowed cross origin or None, a refusal or None)."""
    try:
        return allowed_origin(request, limits), None
    except _CrossOrigin:
        return None, json_error(
            403,
            "cross-origin requests from this web page's origin are not allowed; add the origin to "
            "general_settings.cors_origins to allow it",
            code="origin_not_allowed",
        )


def preflight(origin: str) -> web.Response:
    """The answer to a CORS preflight (``OPTIONS``) from an allowed origin."""
    return web.Response(status=204, headers=cors_headers(origin, preflight=True))


def cors_headers(origin: str, *, preflight: bool = False) -> dict[str, str]:
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if preflight:
        headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        headers["Access-Control-Allow-Headers"] = PREFLIGHT_HEADERS
        headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return headers


def refuse_content_type(request: web.Request) -> web.Response | None:
    """A 415 for a POST whose body is not declared ``application/json``."""
    if request.method != "POST" or request.content_type == "application/json":
        return None
    return json_error(
        415,
        "send the body as JSON with the header 'Content-Type: application/json'",
        code="unsupported_media_type",
    )
