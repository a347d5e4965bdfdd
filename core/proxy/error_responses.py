"""Errors as OpenAI-shaped JSON: ``{"error": {"message", "type", "param", "code"}}`` with a status.

OpenAI clients raise their typed exceptions (``openai.NotFoundError``, ...) from the status and read the
message from this body, so every error the proxy answers with goes through here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web

from patchwire.errors import PatchwireError, RateLimitError

#: OpenAI error types for HTTP-level refusals that do not come from a patchwire error.
_HTTP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    403: "permission_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    500: "api_error",
    503: "service_unavailable_error",
}


#: The longest Retry-After the proxy tells a client (an upstream's hint may be anything).
MAX_RETRY_AFTER = 3600
#: The longest error message the proxy sends.
MAX_MESSAGE = 2000
#: The longest ``param`` (a field name, which a client may choose) an error names.
MAX_PARAM = 100


def error_body(message: str, type_: str, *, param: str | None = None, code: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


def json_error(
    status: int,
    message: str,
    *,
    type_: str | None = None,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An OpenAI-shaped error response."""
    body = error_body(message, type_ or _HTTP_TYPES.get(status, "api_error"), param=param, code=code)
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def patchwire_error_dict(exc: PatchwireError, hide: Sequence[str] = ()) -> dict[str, Any]:
    """The ``error`` object for a patchwire error (also sent as the last event of a broken stream);
    the internal upstream addresses in ``hide`` are left out of its message."""
    message = exc.message
    for base in hide:
        message = message.replace(base, "the upstream API")
    if len(message) > MAX_MESSAGE:  # a backstop: each echoed value is bounded where it is shown
        message = message[:MAX_MESSAGE] + "..."
    param = exc.param if exc.param is None or len(exc.param) <= MAX_PARAM else exc.param[:MAX_PARAM] + "..."
    return {"message": message, "type": exc.error_type, "param": param, "code": exc.code}


def from_patchwire(exc: PatchwireError, *, hide: Sequence[str] = ()) -> web.Response:
    """A patchwire error as its status and OpenAI-shaped body (429s keep their Retry-After)."""
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitError) and exc.retry_after is not None and math.isfinite(exc.retry_after):
        headers["Retry-After"] = str(max(1, min(round(exc.retry_after), MAX_RETRY_AFTER)))
    return web.Response(
        status=exc.status_code,
        body=orjson.dumps({"error": patchwire_error_dict(exc, hide)}),
        content_type="application/json",
        headers=headers or None,
    )


def from_http(exc: web.HTTPException, *, max_request_size: int) -> web.Response:
    """aiohttp's own refusals (404 route, 405 method, 413 body size) in the OpenAI shape."""
    status = exc.status
    if status == 413:
        message = (
            f"request body is too large; this proxy accepts at most {max_request_size} bytes "
            "(general_settings.max_request_size_mb in its config)"
        )
    elif status == 404:
        message = "no such endpoint; the proxy serves /v1/chat/completions, /v1/models and /health"
    elif status == 405:
        message = f"method not allowed here; {exc.reason}"
    else:
        message = exc.reason or exc.text or "request refused"
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    return json_error(status, message, headers=headers or None)
