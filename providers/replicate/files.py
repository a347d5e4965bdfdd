"""Large ``data:`` URLs in a prediction's inputs moved to Replicate's Files API first.

Replicate reads a file input as a URL. It takes a ``data:`` URL inline, but recommends them only up to
256 KB (it does not store them, and they bloat every request that carries the prediction). A larger
one is uploaded with ``POST /v1/files`` (multipart field ``content``) and the input gets the file's
``urls.get`` instead; uploaded files expire after a day. The upload goes to the configured API base
with the call's key, through the request policy every request follows (``api.Api``), and is retried
on 429, 5xx and lost connections (an upload made twice only stores the file twice). The same image in
the next turn of a conversation is not uploaded again: its link is remembered per API base and key
for most of its lifetime.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import aiohttp

from patchwire.errors import BadRequestError, ServiceUnavailableError

from .api import BUSY, CONNECT_TIMEOUT, Api, Rule
from .errors import http_error

log = logging.getLogger("patchwire")

#: Largest file sent inline as a data: URL (Replicate's API reference: "up to 256kb").
INLINE_LIMIT = 256 * 1024
#: Uploaded files expire after 24 hours; a remembered link is reused for less than that.
REUSE_FOR = 20 * 3600.0
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=60.0)
#: An upload made twice only stores the file twice: refusals, 5xx and lost connections are retried.
UPLOADS = Rule(refused=BUSY, resend_lost=True, base=0.5, cap=8.0)
_EXTENSIONS = {"image/jpeg": "jpg", "image/svg+xml": "svg"}


def _is_large_data_url(value: Any) -> bool:
    # base64 holds 3 bytes in 4 characters: the length alone tells the size closely enough (and is
    # checked first: it rules out nearly every input without looking at its text).
    return isinstance(value, str) and len(value) * 3 // 4 > INLINE_LIMIT and value[:5].lower() == "data:"


#: The shortest string ``_is_large_data_url`` can be true of (so a create body shorter than this holds
#: none: ``needs_upload`` need not look).
LARGE_DATA_URL = (INLINE_LIMIT * 4) // 3


def needs_upload(inputs: Mapping[str, Any]) -> bool:
    """Whether any input (or item of a list input) is a data: URL too large to send inline."""
    for value in inputs.values():
        if isinstance(value, str):
            if len(value) >= LARGE_DATA_URL and _is_large_data_url(value):
                return True
        elif isinstance(value, list):
            for item in value:
                if _is_large_data_url(item):
                    return True
    return False


_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}")


def _decode(url: str, label: str) -> tuple[str, bytes]:
    """``(media type, bytes)`` of a base64 data: URL. The shapers check the images they place; one a
    caller passed as a model parameter is checked here, before anything is sent."""
    header, _, data = url.partition(",")
    media_type = header[5:].split(";", 1)[0]
    if not _MEDIA_TYPE.fullmatch(media_type):
        media_type = "application/octet-stream"
    try:
        if not header.endswith(";base64"):
            raise ValueError
        return media_type, base64.b64decode(data.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError(
            f"{label}: an input holds a data: URL that is not base64; encode the file as "
            "'data:<type>;base64,<data>' or pass an https URL",
        ) from None


def _multipart(media_type: str, data: bytes) -> tuple[str, bytes]:
    boundary = secrets.token_hex(16)
    subtype = media_type.split("/", 1)[-1]
    filename = f"upload.{_EXTENSIONS.get(media_type, subtype if subtype.isalnum() else 'bin')}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="content"; filename="{filename}"\r\n'
        f"Content-Type: {media_type}\r\n\r\n"
    ).encode()
    return f"multipart/form-data; boundary={boundary}", head + data + f"\r\n--{boundary}--\r\n".encode()


class FileUploads:
    """Uploads for one provider: the links of recent uploads, per API base, key and content."""

    def __init__(self, size: int = 256) -> None:
        self._links: OrderedDict[tuple[str, str, str], tuple[str, float]] = OrderedDict()
        self._size = size

    async def inline_or_upload(self, api: Api, base: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """``inputs`` with every large data: URL replaced by an uploaded file's link."""
        out: dict[str, Any] = {}
        for name, value in inputs.items():
            if _is_large_data_url(value):
                value = await self._link(api, base, value)
            elif isinstance(value, list) and any(_is_large_data_url(item) for item in value):
                value = [
                    await self._link(api, base, item) if _is_large_data_url(item) else item for item in value
                ]
            out[name] = value
        return out

    async def _link(self, api: Api, base: str, url: str) -> str:
        media_type, data = _decode(url, api.label)
        key = api.auth.get("Authorization", "")
        cache_key = (base, hashlib.sha256(key.encode()).hexdigest(), hashlib.sha256(data).hexdigest())
        now = time.monotonic()
        known = self._links.get(cache_key)
        if known is not None and known[1] > now:
            self._links.move_to_end(cache_key)
            return known[0]
        link = await upload(api, base, media_type, data)
        self._links[cache_key] = (link, now + REUSE_FOR)
        if len(self._links) > self._size:
            self._links.popitem(last=False)
        return link


async def upload(api: Api, base: str, media_type: str, data: bytes) -> str:
    """``POST /v1/files``; the new file's ``urls.get``."""
    content_type, body = _multipart(media_type, data)
    what = f"an image upload ({len(data)} bytes)"
    answer = await api.request(
        "POST",
        f"{base}/v1/files",
        rule=UPLOADS,
        what=what,
        timeout=UPLOAD_TIMEOUT,
        headers={**api.auth, "Content-Type": content_type},
        data=body,
    )
    if answer.status >= 300:
        raise http_error(answer.status, answer.body, answer.headers, what=f"{api.label} ({what})")
    parsed = answer.json()
    urls = parsed.get("urls") if isinstance(parsed, Mapping) else None
    link = urls.get("get") if isinstance(urls, Mapping) else None
    if not isinstance(link, str) or not link:
        raise ServiceUnavailableError(
            f"{api.label}: Replicate's Files API answered {answer.status} without a file link; retry, "
            "or send the image as an https URL",
            provider="replicate",
        )
    log.debug("patchwire: replicate uploaded %s -> %s", what, link)
    return link
