"""Checking ``Authorization: Bearer <key>`` against the configured keys, in constant time.

Both sides are hashed first, so neither a key's length nor how many leading characters matched shows in
the timing, and every configured key is compared (no early exit that would tell which one was close).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyChecker:
    """Holds digests of the allowed keys (never the keys themselves) and checks request headers."""

    __slots__ = ("_digests",)

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(k) for k in keys)

    @property
    def enabled(self) -> bool:
        """False when no key is configured (the proxy then serves anyone who can reach it)."""
        return bool(self._digests)

    def allows(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value carries one of the allowed keys."""
        if not self._digests:
            return True
        key = bearer_token(authorization)
        if key is None:
            return False
        offered = _digest(key)
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(offered, digest)
        return found

    def __repr__(self) -> str:
        return f"KeyChecker({len(self._digests)} keys)"


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Bearer <token>`` (scheme case-insensitive), or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
