"""Text from outside made safe to show: escaped for a log line, stripped of keys, bounded in length.

A log line or an error message that repeats what a client or an upstream sent must not let that text
forge another log line (CR/LF), hide itself (control characters), hand over a key an upstream echoed
back, or grow without bound.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Replicate's key shape; an upstream that echoes request headers would show one.
_TOKEN = re.compile(r"r8_[A-Za-z0-9_\-]+")
#: A credential after "Bearer"/"Token" (long, with a digit or _/-: not the word in "token limit").
_BEARER = re.compile(r"(?i)\b(bearer|token)(\s+)(?=[^\s\"',;]*[0-9_\-])[^\s\"',;]{8,}")
#: Whatever follows an echoed ``Authorization`` header name.
_AUTHORIZATION = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|token)\s+)?[^\s\"',;}]+")
REDACTED = "[redacted]"
#: How much of an outside value a log line or message repeats.
DEFAULT_LIMIT = 200


def escape(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` as one printable line: control and non-printable characters (CR, LF, NUL, ESC, ...)
    become backslash escapes, and anything past ``limit`` characters is cut and marked."""
    text = value if isinstance(value, str) else str(value)
    extra = len(text) - limit
    text = text[:limit]
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)
    return f"{text}...[{extra} more chars]" if extra > 0 else text


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\x{code:02x}")
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without any of ``secrets``, any ``r8_``-shaped token, or a bearer credential."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _TOKEN.sub(REDACTED, text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def upstream_text(text: str, secrets: Iterable[str | None] = (), limit: int = 300) -> str:
    """Upstream text for an error message: keys redacted, printable, at most ``limit`` characters.
    (Redacted before cutting, so a key split by the cut cannot survive in part.)"""
    return escape(redact(text, secrets), limit)
