"""Which Replicate key a call uses: ``api_key=`` (or the route's), then ``REPLICATE_API_KEY``, then
``REPLICATE_API_TOKEN`` (the name Replicate's official client reads)."""

from __future__ import annotations

import os
import re

from patchwire.errors import AuthenticationError

KEY_ENV_VARS = ("REPLICATE_API_KEY", "REPLICATE_API_TOKEN")
#: What a key may hold: visible ASCII. CR/LF would inject headers, NUL/DEL make aiohttp raise a bare
#: ValueError; whitespace is a copy-and-paste slip.
KEY_CHARS = re.compile(r"[\x21-\x7e]+")


def resolve_key(api_key: str | None) -> str:
    """The key to send; ``AuthenticationError`` naming both variables when there is none, or when the
    key holds characters no key has (the message never repeats the key)."""
    if api_key:
        return _checked(api_key, "api_key")
    for var in KEY_ENV_VARS:
        value = os.environ.get(var)
        if value:
            return _checked(value, var)
    raise AuthenticationError(
        "no Replicate API key: pass api_key=, or set REPLICATE_API_KEY (or REPLICATE_API_TOKEN) "
        "to a token from https://replicate.com/account/api-tokens",
        provider="replicate",
    )


def _checked(key: object, source: str) -> str:
    if not isinstance(key, str) or not KEY_CHARS.fullmatch(key):
        raise AuthenticationError(
            f"the Replicate API key from {source} contains a space, a line break or another control or "
            "non-ASCII character; copy the token again from https://replicate.com/account/api-tokens",
            provider="replicate",
        )
    return key
