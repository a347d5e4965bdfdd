"""``data:`` URLs of images: read, checked to hold an image, measured.

A client that has an image in hand sends it as ``data:image/png;base64,...`` (OpenAI's own format).
The bytes are decoded once here: a URL that is not base64, or whose bytes are not an image whatever
its media type says, is refused before anything is sent.
"""

from __future__ import annotations

import base64
import binascii
import re

import attrs

from patchwire import BadRequestError

#: ``data:<media type>[;param=value...];base64,<data>``; the media type is checked separately.
_DATA_URL = re.compile(
    r"data:(?P<type>[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+)?(?P<params>(?:;[A-Za-z0-9_.+-]+=[^;,]*)*)"
    r"(?P<b64>;base64)?,(?P<data>.*)",
    re.DOTALL,
)
#: The largest image patchwire sends (Replicate's Files API takes up to 100 MiB).
MAX_IMAGE_BYTES = 100 * 1024 * 1024

#: Leading bytes of the image formats vision models read.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


@attrs.frozen
class DataImage:
    """A decoded image: its media type (from its bytes) and size."""

    media_type: str
    size: int


def sniff(data: bytes) -> str | None:
    """The image format the bytes start with, or None when they are not an image we know."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "image/avif"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1"):
        return "image/heic"
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    return None


def read_data_image(url: str, where: str) -> DataImage:
    """Check a ``data:`` URL holds an image; ``BadRequestError`` naming ``where`` if not."""
    match = _DATA_URL.fullmatch(url)
    if match is None or not match.group("b64"):
        raise BadRequestError(
            f"{where} is a data: URL patchwire cannot read; send an image as "
            "'data:image/<type>;base64,<data>' or an https URL",
            param=where,
        )
    declared = (match.group("type") or "").lower()
    if not declared.startswith("image/"):
        raise BadRequestError(
            f"{where} is a data: URL of {declared or 'unknown type'!r}, not an image; send an image "
            "(png, jpeg, gif, webp)",
            param=where,
        )
    encoded = match.group("data")
    if (len(encoded) // 4) * 3 > MAX_IMAGE_BYTES + 3:
        raise BadRequestError(
            f"{where} holds more than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB; send a smaller image",
            param=where,
        )
    try:
        data = base64.b64decode(encoded.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError(
            f"{where} is not valid base64; encode the image with standard base64", param=where
        ) from None
    media_type = sniff(data)
    if media_type is None:
        raise BadRequestError(
            f"{where} says {declared!r} but its bytes are not an image patchwire recognizes (png, "
            "jpeg, gif, webp, bmp, tiff, avif, heic); send the image file's own bytes",
            param=where,
        )
    return DataImage(media_type, len(data))
