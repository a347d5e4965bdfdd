"""Where a call's requests go: the API base, and the links (``urls.get`` / ``urls.stream`` /
``urls.cancel``, a list's ``next``) the API hands back.

``api_base=`` replaces ``https://api.replicate.com``; links are then moved onto it too, so a proxy or
simulator in front of Replicate sees every request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_BASE = "https://api.replicate.com"


def normalize_base(api_base: str | None) -> str:
    """The API base without a trailing ``/`` or ``/v1`` (paths carry ``/v1/...`` themselves)."""
    if not api_base:
        return DEFAULT_API_BASE
    base = api_base.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    return base


def rebase(url: str, base: str) -> str:
    """``url`` (a link the API returned) moved onto ``base``, keeping its path and query."""
    if url.startswith(base) and url[len(base) : len(base) + 1] in ("/", "?", ""):
        return url
    parts = urlsplit(url)
    base_path = urlsplit(base).path
    path = parts.path
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        base = base[: len(base) - len(base_path)]
    query = f"?{parts.query}" if parts.query else ""
    return f"{base}{path}{query}"


class Links:
    """Resolves the links of one call's API answers against its API base."""

    __slots__ = ("base", "rebase_links")

    def __init__(self, api_base: str | None) -> None:
        self.base = normalize_base(api_base)
        #: Only when the caller chose the base: by default links are followed as the API gives them.
        self.rebase_links = bool(api_base)

    def follow(self, url: Any, fallback: str) -> str:
        """The URL to request for ``url`` (a link from an answer), or ``fallback`` when there is none."""
        if not isinstance(url, str) or not url:
            return fallback
        return rebase(url, self.base) if self.rebase_links else url
