"""Which Replicate key a call uses, and where its requests go.

Key order: ``api_key=`` (or the route's), then ``REPLICATE_API_KEY``, then ``REPLICATE_API_TOKEN`` (the
official client's name). ``api_base=`` replaces ``https://api.replicate.com`` for every request, including
the ``urls.get`` / ``urls.stream`` / ``urls.cancel`` links the API hands back.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from patchwire.errors import AuthenticationError

DEFAULT_API_BASE = "https://api.replicate.com"
KEY_ENV_VARS = ("REPLICATE_API_KEY", "REPLICATE_API_TOKEN")


def resolve_key(api_key: str | None) -> str:
    """The key to send; ``AuthenticationError`` naming both variables when there is none."""
    if api_key:
        return api_key
    for var in KEY_ENV_VARS:
        value = os.environ.get(var)
        if value:
            return value
    raise AuthenticationError(
        "no Replicate API key: pass api_key=, or set REPLICATE_API_KEY (or REPLICATE_API_TOKEN) "
        "to a token from https://replicate.com/account/api-tokens",
        provider="replicate",
    )


def normalize_base(api_base: str | None) -> str:
    """The API base without a trailing ``/`` or ``/v1`` (paths carry ``/v1/...`` themselves)."""
    if not api_base:
        return DEFAULT_API_BASE
    base = api_base.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    return base


def rebase(url: str, base: str) -> str:
    """``url`` (a link the API returned) moved onto ``base``, keeping its path and query.

    Only applied when the caller gave ``api_base``: a proxy or simulator must see every request.
    """
    if url.startswith(base) and url[len(base) : len(base) + 1] in ("/", "?", ""):
        return url
    parts = urlsplit(url)
    base_path = urlsplit(base).path
    path = parts.path
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        base = base[: len(base) - len(base_path)]
    query = f"?{parts.query}" if parts.query else ""
    return f"{base}{path}{query}"
