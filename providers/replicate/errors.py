"""Replicate's HTTP answers as typed patchwire errors, and the retry hints they carry.

Messages name what failed and what to do, with the API's own ``detail``; they never contain the key.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import orjson

from patchwire.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PatchwireError,
    ProviderError,
    RateLimitError,
    ServiceUnavailableError,
)
from patchwire.safetext import redact, upstream_text

KEY_HELP = "pass api_key=, or set REPLICATE_API_KEY or REPLICATE_API_TOKEN"


def json_or_none(body: bytes) -> Any:
    """The JSON in ``body``, or None when it is empty or not JSON (never raises)."""
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def detail_of(parsed: Any, body: bytes) -> str:
    """The problem's ``detail`` (or ``title``), else a short excerpt of the body — with any key in it
    redacted (an upstream that echoes request headers would hand the key to whoever reads the error)."""
    if isinstance(parsed, Mapping):
        for key in ("detail", "title", "error"):
            value = parsed.get(key)
            if isinstance(value, str) and value.strip():
                return upstream_text(value.strip())
    text = body[:4000].decode("utf-8", "replace").strip()
    return upstream_text(text) if text else "(no body)"


def retry_after(headers: Mapping[str, str], parsed: Any) -> float | None:
    """Seconds to wait: the ``Retry-After`` header (seconds or an HTTP date), else ``retry_after``
    from the body (Replicate's 429s carry both)."""
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                stamp = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                stamp = None
            if stamp is not None:
                return max(0.0, stamp.timestamp() - time.time())
    if isinstance(parsed, Mapping):
        body_value = parsed.get("retry_after")
        if isinstance(body_value, int | float) and not isinstance(body_value, bool):
            return max(0.0, float(body_value))
    return None


def _redacted(parsed: Any) -> Any:
    """The parsed body with every key-shaped string redacted (the error keeps it for callers)."""
    if parsed is None:
        return None
    text = orjson.dumps(parsed).decode()
    cleaned = redact(text)
    if cleaned == text:
        return parsed
    try:
        return orjson.loads(cleaned)
    except orjson.JSONDecodeError:
        return None


def http_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    what: str,
    prediction_id: str | None = None,
) -> PatchwireError:
    """The typed error for a non-2xx answer. ``what`` names the thing asked for, for the message
    (``"model meta/meta-llama-3-8b-instruct"``, ``"prediction abc"``)."""
    parsed = json_or_none(body)
    detail = detail_of(parsed, body)
    kw: dict[str, Any] = {"provider": "replicate", "prediction_id": prediction_id, "body": _redacted(parsed)}
    if status in (401, 403):
        return AuthenticationError(
            f"Replicate refused the API key ({status}: {detail}); {KEY_HELP} with a valid token", **kw
        )
    if status == 404:
        return NotFoundError(
            f"Replicate has no {what} ({detail}); check the model string, or that your token may use it",
            **kw,
        )
    if status == 422:
        return BadRequestError(f"Replicate rejected the request for {what}: {detail}", **kw)
    if status == 429:
        return RateLimitError(
            f"Replicate kept rate-limiting requests for {what} ({detail}); slow down or retry later",
            retry_after=retry_after(headers, parsed),
            **kw,
        )
    if status == 402:
        return RateLimitError(
            f"Replicate refused {what} for lack of credit ({detail}); add credit to the account",
            code="insufficient_credit",
            **kw,
        )
    if 400 <= status < 500:
        return BadRequestError(f"Replicate rejected the request for {what} ({status}: {detail})", **kw)
    return ServiceUnavailableError(f"Replicate answered {status} for {what} ({detail}); retry later", **kw)


def prediction_error(prediction: Mapping[str, Any], model: str) -> ProviderError:
    """The error for a prediction that ended without succeeding."""
    status = prediction.get("status")
    pid = prediction.get("id")
    if status == "failed":
        error = upstream_text(str(prediction.get("error") or "no error message"))
        return ProviderError(
            f"{model}: prediction {pid} failed: {error}",
            provider="replicate",
            prediction_id=pid,
            code="prediction_failed",
            body=error,
        )
    if status == "aborted":
        return ProviderError(
            f"{model}: prediction {pid} was aborted before it started (its Cancel-After deadline passed "
            "while it queued); retry with a larger timeout=",
            provider="replicate",
            prediction_id=pid,
            code="prediction_aborted",
        )
    return ProviderError(
        f"{model}: prediction {pid} was canceled (by its owner, or its deadline passed) before it finished",
        provider="replicate",
        prediction_id=pid,
        code="prediction_canceled",
    )
