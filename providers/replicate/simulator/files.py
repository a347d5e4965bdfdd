"""The simulator's Files API: files uploaded with ``POST /v1/files``, kept in memory.

An upload is a multipart form whose ``content`` part holds the bytes (its filename and content type
are taken from the part, or from ``filename`` / ``type`` fields), with an optional ``metadata`` JSON
object. The answer is Replicate's file object; its ``urls.get`` is what a caller passes as a model
input, and ``GET`` of it returns the bytes, to the same API token only.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from typing import Any

import attrs
import orjson
from aiohttp import BodyPartReader, web

from .http import json_response, problem
from .predictions import iso
from .validate import InvalidField, problem_422

#: Replicate keeps an upload for a day.
EXPIRY_SECONDS = 24 * 3600
_MAX_NAME_BYTES = 255
_MAX_FIELD_BYTES = 64 * 1024  # filename, type, metadata, and any other part
_MAX_PARTS = 16
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


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

    def json(self, base: str) -> dict[str, Any]:
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
            "urls": {"get": f"{base}/v1/files/{self.id}"},
        }


class FileStore:
    """Uploaded files by id."""

    def __init__(self, max_bytes: int, id_salt: int = 0) -> None:
        self.max_bytes = max_bytes
        self.files: dict[str, UploadedFile] = {}
        self._rng = random.Random(f"files:{id_salt}")

    def new_id(self) -> str:
        while True:
            fid = "".join(self._rng.choices(_ID_ALPHABET, k=26))
            if fid not in self.files:
                return fid

    def find(self, url_or_id: str) -> UploadedFile | None:
        """The file a `urls.get` (or a bare id) names."""
        _, _, fid = url_or_id.rstrip("/").rpartition("/v1/files/")
        return self.files.get(fid or url_or_id)

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
        )
        self.files[upload.id] = upload
        return json_response(upload.json(base), 201)

    def download(self, file_id: str, owner: str) -> web.Response:
        """`GET` of a file's `urls.get`: its bytes, to the token that uploaded it (else 404)."""
        upload = self.files.get(file_id)
        if upload is None or upload.owner != owner:
            return problem(404, "Not found.")
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
