"""HTTP wire helpers of the simulator: JSON and problem+json answers, header parsing, drops."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import orjson
from aiohttp import web

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@attrs.define
class RequestRecord:
    """One request as the simulator saw it (Authorization header removed)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any = None


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def problem(
    status: int,
    detail: str,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    body: dict[str, Any] = {"title": title} if title else {}
    body.update(detail=detail, status=status, **extra)
    return web.Response(
        body=orjson.dumps(body) + b"\n",
        status=status,
        headers=headers,
        content_type="application/problem+json",
    )


def unauthenticated() -> web.Response:
    return problem(401, "You did not pass a valid authentication token", "Unauthenticated")


def not_found(detail: str = "Not found.") -> web.Response:
    return problem(404, detail)


def invalid_version() -> web.Response:
    return problem(
        422,
        "The specified version does not exist (or perhaps you don't have permission to use it?)",
        "Invalid version or not permitted",
    )


def parse_duration(value: str) -> float | None:
    """`Cancel-After`: Go-style durations (`30s`, `5m`, `1h30m45s`, `500ms`) or bare seconds."""
    text = value.strip()
    with contextlib.suppress(ValueError):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def parse_prefer(value: str | None) -> tuple[float, str] | None:
    """`Prefer: wait` / `wait=N` (1-60) -> (seconds, the preference applied)."""
    if not value:
        return None
    for token in value.split(","):
        token = token.strip()
        if token == "wait":
            return 60.0, "wait"
        if token.startswith("wait="):
            with contextlib.suppress(ValueError):
                seconds = int(token[5:])
                if seconds >= 1:
                    return float(min(seconds, 60)), f"wait={min(seconds, 60)}"
    return None


def drop_connection(request: web.Request) -> web.Response:
    """Close the connection unanswered; the response returned is never sent."""
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=499)


def query_time(value: str | None) -> int | None:
    """An ISO 8601 query value as wall-clock microseconds (naive means UTC)."""
    if value is None:
        return None
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return (stamp - _EPOCH) // timedelta(microseconds=1)
