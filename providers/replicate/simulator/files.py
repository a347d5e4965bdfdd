"""The simulator's Files API: files uploaded with ``POST /v1/files``, kept in memory.

An upload is a multipart form whose ``content`` part holds the bytes (its filename and content type
are taken from the part, or from ``filename`` / ``type`` fields), with an optional ``metadata`` JSON
object. The answer is Replicate's file object; its ``urls.get`` is what a caller passes as a model
input. As on Replicate, ``GET`` of ``urls.get`` answers the file object again (JSON, to the token that
uploaded it only), ``GET /v1/files`` lists them, and the bytes come from
``GET /v1/files/{id}/download?owner=...&expiry=...&signature=...``: a link signed with a secret only
the server holds (an HMAC-SHA256 of ``"{owner} {id} {expiry}"``, base64), which needs no token and
stops working at ``expiry`` (Unix seconds). ``FileStore.download_url`` makes such a link for a test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import attrs
import orjson
from aiohttp import BodyPartReader, web

from .http import json_response, problem
from .predictions import iso
from .validate import InvalidField, problem_422

#: Replicate keeps an upload for a day.
EXPIRY_SECONDS = 24 * 3600
#: The account every simulator token belongs to (`GET /v1/account`): the owner in download links.
ACCOUNT_USERNAME = "simulator"
PAGE_SIZE = 100
_MAX_NAME_BYTES = 255
_MAX_FIELD_BYTES = 64 * 1024  # filename, type, metadata, and any other part
_MAX_PARTS = 16
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_CURSOR = re.compile(r"[0-9]{1,9}")


@attrs.define(eq=False)
class UploadedFile:
    """One uploaded file: `content` is exactly the bytes that reached the simulator."""

    id: str
    name: str
    content_type: str
    content: bytes
    metadata: dict[str, Any]
    owner: str  # the API token that uploaded it; only it may read the file
    created: float
    base: str  # the origin it was uploaded to, for its links

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "content_type": self.content_type,
            "size": len(self.content),
            "etag": f'"{hashlib.md5(self.content).hexdigest()}"',
            "checksums": {
                "sha256": hashlib.sha256(self.content).hexdigest(),
                "md5": hashlib.md5(self.content).hexdigest(),
            },
            "metadata": self.metadata,
            "created_at": iso(self.created),
            "expires_at": iso(self.created + EXPIRY_SECONDS),
            "urls": {"get": f"{self.base}/v1/files/{self.id}"},
        }


class FileStore:
    """Uploaded files by id."""

    def __init__(self, max_bytes: int, id_salt: int = 0) -> None:
        self.max_bytes = max_bytes
        self.files: dict[str, UploadedFile] = {}
        self._rng = random.Random(f"files:{id_salt}")
        self._secret = secrets.token_bytes(32)  # signs download links; never leaves the process

    def new_id(self) -> str:
        while True:
            fid = "".join(self._rng.choices(_ID_ALPHABET, k=26))
            if fid not in self.files:
                return fid

    def find(self, url_or_id: str) -> UploadedFile | None:
        """The file a `urls.get`, a download link or a bare id names."""
        _, found, rest = url_or_id.partition("/v1/files/")
        return self.files.get(rest.partition("?")[0].partition("/")[0] if found else url_or_id)

    def download_url(self, url_or_id: str, expires_in: float = 3600.0) -> str:
        """A signed link to the bytes of an uploaded file, good for `expires_in` seconds."""
        upload = self.find(url_or_id)
        if upload is None:
            raise KeyError(f"no uploaded file {url_or_id!r}")
        expiry = int(time.time() + expires_in)
        query = {"expiry": expiry, "owner": ACCOUNT_USERNAME, "signature": self._sign(upload.id, expiry)}
        return f"{upload.base}/v1/files/{upload.id}/download?{urlencode(query)}"

    def _sign(self, file_id: str, expiry: int) -> str:
        signed = f"{ACCOUNT_USERNAME} {file_id} {expiry}".encode()
        return base64.b64encode(hmac.digest(self._secret, signed, "sha256")).decode()

    async def upload(self, request: web.Request, owner: str, base: str) -> web.Response:
        """`POST /v1/files`: read the form, keep the file, answer 201 with the file object."""
        if request.content_type != "multipart/form-data":
            return problem(
                415, "Upload a file as multipart/form-data with the bytes in a 'content' part", "Unsupported"
            )
        length = request.content_length
        if length is not None and length > self.max_bytes + _MAX_PARTS * _MAX_FIELD_BYTES:
            return problem(413, f"The file is larger than {self.max_bytes} bytes", "File too large")
        fields: dict[str, str] = {}
        content: bytes | None = None
        part_name = part_type = ""
        parts = 0
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                parts += 1
                if not isinstance(part, BodyPartReader) or parts > _MAX_PARTS:
                    detail = f"An upload is at most {_MAX_PARTS} parts, none of them multipart itself"
                    return problem(400, detail, "Invalid upload")
                if part.name == "content" and content is None:
                    content = await _read(part, self.max_bytes)
                    if content is None:
                        return problem(
                            413, f"The file is larger than {self.max_bytes} bytes", "File too large"
                        )
                    part_name = part.filename or ""
                    part_type = part.headers.get("Content-Type", "")
                elif part.name in ("filename", "type", "metadata"):
                    raw = await _read(part, _MAX_FIELD_BYTES)
                    if raw is None:
                        return problem(413, f"The '{part.name}' field is too large", "Field too large")
                    fields[part.name] = raw.decode("utf-8", "replace")
                elif await _read(part, _MAX_FIELD_BYTES) is None:  # a part nobody reads
                    return problem(413, f"The '{part.name}' part is too large", "Field too large")
        except ValueError as exc:  # a malformed multipart body
            return problem(400, f"The multipart body cannot be read: {exc}", "Invalid upload")
        if content is None:
            return json_response(problem_422([_invalid("required", "", "content is required")]), 422)
        name = fields.get("filename") or part_name or "file"
        content_type = fields.get("type") or part_type or "application/octet-stream"
        problems, metadata = _check(name, content_type, fields.get("metadata"))
        if problems:
            return json_response(problem_422(problems), 422)
        upload = UploadedFile(
            id=self.new_id(),
            name=name,
            content_type=content_type.partition(";")[0].strip(),
            content=content,
            metadata=metadata,
            owner=owner,
            created=time.monotonic(),
            base=base,
        )
        self.files[upload.id] = upload
        return json_response(upload.json(), 201)

    def get(self, file_id: str, owner: str) -> web.Response:
        """`GET` of a file's `urls.get`: the file object, to the token that uploaded it (else 404)."""
        upload = self.files.get(file_id)
        if upload is None or upload.owner != owner:
            return problem(404, "Not found.")
        return json_response(upload.json())

    def listing(self, owner: str, cursor: str | None, base: str) -> web.Response:
        """`GET /v1/files`: the token's files, newest first, a page at a time."""
        mine = [f for f in reversed(self.files.values()) if f.owner == owner]
        start = int(cursor) if cursor is not None and _CURSOR.fullmatch(cursor) else 0
        end = start + PAGE_SIZE
        next_url = f"{base}/v1/files?{urlencode({'cursor': end})}" if end < len(mine) else None
        results = [f.json() for f in mine[start:end]]
        return json_response({"next": next_url, "previous": None, "results": results})

    def download(self, file_id: str, query: Mapping[str, str]) -> web.Response:
        """`GET /v1/files/{id}/download`: the bytes, to whoever holds an unexpired signed link."""
        owner, expiry, signature = (query.get(name, "") for name in ("owner", "expiry", "signature"))
        if not (owner and signature and _UNIX_SECONDS.fullmatch(expiry)):
            detail = "A download link needs owner, expiry (Unix seconds) and signature query parameters"
            return problem(400, detail, "Invalid download link")
        upload = self.files.get(file_id)
        if upload is None:
            return problem(404, "Not found.")
        expected = self._sign(file_id, int(expiry))
        if owner != ACCOUNT_USERNAME or not hmac.compare_digest(signature.encode(), expected.encode()):
            return problem(403, "The download link's signature does not match", "Invalid signature")
        if int(expiry) < time.time():
            return problem(403, "The download link has expired; make a new one", "Link expired")
        return web.Response(body=upload.content, content_type=upload.content_type)

    def delete(self, file_id: str, owner: str) -> web.Response:
        upload = self.files.get(file_id)
        if upload is None or upload.owner != owner:
            return problem(404, "Not found.")
        del self.files[file_id]
        return web.Response(status=204)


async def _read(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's bytes, or None once they pass `limit` (the rest is never held in memory)."""
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def _check(name: str, content_type: str, metadata: str | None) -> tuple[list[InvalidField], dict[str, Any]]:
    """The problems of the form's fields, and the metadata object."""
    problems = []
    if len(name.encode()) > _MAX_NAME_BYTES or any(ord(c) < 32 or ord(c) == 127 for c in name):
        problems.append(_invalid("invalid", "filename", f"filename must be at most {_MAX_NAME_BYTES} bytes"))
    # The type is sent back as a Content-Type header: only a plain MIME type may pass.
    mime = content_type.partition(";")[0].strip()
    if not _MIME.fullmatch(mime):
        problems.append(_invalid("invalid", "type", "type must be a MIME type such as image/png"))
    value: Any = {}
    if metadata is not None:
        try:
            value = orjson.loads(metadata)
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            problems.append(_invalid("invalid_type", "metadata", "metadata must be a JSON object"))
            value = {}
    return problems, value


def _invalid(kind: str, field: str, description: str) -> InvalidField:
    return {"type": kind, "field": field, "description": description}
