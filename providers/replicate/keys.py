"""Which Replicate key a call uses: ``api_key=`` (or the route's), then ``REPLICATE_API_KEY``, then
``REPLICATE_API_TOKEN`` (the name Replicate's official client reads)."""

from __future__ import annotations

import os

from patchwire.errors import AuthenticationError

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
