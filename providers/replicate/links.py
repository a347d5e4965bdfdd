"""Where a call's requests go, and which links in the API's answers the key may follow.

``api_base=`` replaces ``https://api.replicate.com``. The links an answer holds (``urls.get`` /
``urls.stream`` / ``urls.cancel``, a list's ``next``) are followed with the key, so each is checked
first: the key goes only to the API origin (``api_base``, or Replicate's) and to Replicate's own hosts
over https (``*.replicate.com``; stream links live on hosts such as
``streaming-api.svc.rno2.c.replicate.net``). Any other link is refused with ``RejectedURLError``, since
following it would hand the key to whoever the answer names.

With ``api_base`` set, links on Replicate's API origin are moved onto it (a proxy in front of Replicate
sees every request); links on Replicate's other hosts are followed as given, since their paths exist
only there.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

from patchwire.errors import RejectedURLError

DEFAULT_API_BASE = "https://api.replicate.com"
#: Replicate's own hosts, which may receive the key over https: the domains and their subdomains.
REPLICATE_DOMAINS = ("replicate.com", "replicate.net")

# The characters a URL may hold (RFC 3986); anything else (spaces, backslashes, control characters,
# non-ASCII) is refused rather than left to a parser's interpretation.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}


#: The environment variable that sets the API base for calls that give none.
BASE_ENV_VAR = "REPLICATE_API_BASE"


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


def _origin(parts: SplitResult) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL, or None when it has user info or an unreadable port."""
    if parts.username is not None or parts.password is not None:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def is_replicate_host(parts: SplitResult) -> bool:
    """An https URL on one of Replicate's own hosts, on the default port."""
    origin = _origin(parts)
    if origin is None:
        return False
    scheme, host, port = origin
    return (
        scheme == "https"
        and port == 443
        and any(host == domain or host.endswith("." + domain) for domain in REPLICATE_DOMAINS)
    )


_REPLICATE_API = _origin(urlsplit(DEFAULT_API_BASE))


def chosen_base(api_base: str | None) -> str | None:
    """The API base a call asked for: ``api_base=``, else REPLICATE_API_BASE (LiteLLM's name, which
    points calls elsewhere, e.g. at `patchwire fake-replicate`), else None for Replicate's own."""
    return api_base or os.environ.get(BASE_ENV_VAR) or None


class Links:
    """Resolves the links of one call's API answers against its API base (see the module docstring)."""

    __slots__ = ("_origin", "base", "rebase_links")

    def __init__(self, api_base: str | None) -> None:
        api_base = chosen_base(api_base)
        self.base = normalize_base(api_base)
        #: Whether the caller chose the base: links on Replicate's API origin are then moved onto it.
        self.rebase_links = bool(api_base)
        self._origin = _origin(urlsplit(self.base))

    @classmethod
    def of(cls, api_base: str | None) -> Links:
        """The ``Links`` of ``api_base``, made once per base (parsing it costs more than the lookup)."""
        key = chosen_base(api_base)
        links = _by_base.get(key)
        if links is None:
            if len(_by_base) >= _MAX_BASES:  # bases come from callers: keep the memory bounded
                _by_base.clear()
            links = _by_base[key] = cls(key)
        return links

    def follow(self, url: Any, fallback: str) -> str:
        """The URL to request for ``url`` (a link from an answer), or ``fallback`` when there is none.

        ``RejectedURLError`` when the key must not go where the link points.
        """
        if not isinstance(url, str) or not url:
            return fallback
        if not _URL_CHARS.fullmatch(url):
            raise self._rejected(url)
        base = self.base
        if url.startswith(base) and url[len(base) : len(base) + 1] in ("/", "?"):
            return url  # on the API base itself: the common case, decided without parsing
        parts = urlsplit(url)
        origin = _origin(parts)
        if origin is not None and origin == self._origin:
            return rebase(url, base)
        if self.rebase_links and origin is not None and origin == _REPLICATE_API:
            return rebase(url, base)
        if is_replicate_host(parts):
            return url
        raise self._rejected(url)

    def follow_or(self, url: Any, fallback: str) -> str:
        """``follow``, but ``fallback`` where the link is refused (for a cleanup that must not fail)."""
        try:
            return self.follow(url, fallback)
        except RejectedURLError:
            return fallback

    @staticmethod
    def _rejected(url: str) -> RejectedURLError:
        # Only the scheme and host are shown: the rest (user info, path, query) may carry secrets.
        if _URL_CHARS.fullmatch(url):
            parts = urlsplit(url)
            where = f"{parts.scheme}://{parts.hostname or ''}"[:80]
        else:
            where = "with characters no URL may hold"
        return RejectedURLError(
            f"Rejected prediction URL ({where}): Replicate's answer links to a place the API key must "
            "not be sent (it goes only to the configured API origin and to Replicate's own hosts over "
            "https); check that api_base points at Replicate or at a proxy you trust",
            provider="replicate",
        )


#: ``Links.of``'s memory, by API base.
_by_base: dict[str | None, Links] = {}
_MAX_BASES = 256
