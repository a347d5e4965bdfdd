"""Debug output as LiteLLM users know it: each request to the provider as a runnable ``curl`` command.

Turn it on with ``patchwire.set_verbose = True`` (LiteLLM's spelling), the environment variable
``PATCHWIRE_LOG=debug``, ``patchwire serve --debug``, or your own logging config at DEBUG for the
``patchwire`` logger. ``set_verbose`` installs a handler on stderr if the program has none, so a fresh
interpreter prints something.

The key in a printed command is replaced by ``r8_…`` and at most its last four characters: run as
printed, the command is refused (401); put your key back to replay the request.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Mapping
from typing import Any

from patchwire.logformat import NameOnce

#: The logger the requests are printed on (a child of ``patchwire``).
log = logging.getLogger("patchwire.requests")
_root = logging.getLogger("patchwire")
_installed: logging.Handler | None = None
_verbose = False

ENV = "PATCHWIRE_LOG"


def redact(secret: str) -> str:
    """A key as ``r8_…`` plus at most its last four characters (fewer for a short key)."""
    keep = min(4, len(secret) // 4)
    prefix = "r8_" if secret.startswith("r8_") else ""
    return f"{prefix}…{secret[-keep:] if keep else ''}"


def _redact_header(name: str, value: str) -> str:
    if name.lower() != "authorization":
        return value
    scheme, sep, token = value.partition(" ")
    return f"{scheme} {redact(token.strip())}" if sep else redact(value)


def curl_command(method: str, url: str, headers: Mapping[str, str], data: bytes | None = None) -> str:
    """The request as a ``curl`` command a shell runs as printed (the key redacted)."""
    parts = ["curl", "-X", method, shlex.quote(url)]
    for name, value in headers.items():
        parts += ["-H", shlex.quote(f"{name}: {_redact_header(name, value)}")]
    if data is not None:
        parts += ["-d", shlex.quote(data.decode("utf-8", "replace"))]
    return " ".join(parts)


def enabled() -> bool:
    return log.isEnabledFor(logging.DEBUG)


def log_request(
    provider: str, method: str, url: str, headers: Mapping[str, str], data: bytes | None = None
) -> None:
    """Log one request about to be sent, as a curl command (call only when ``enabled()``)."""
    log.debug("%s %s request sent:\n%s", provider, method, curl_command(method, url, headers, data))


def log_answer(provider: str, method: str, url: str, status: int, answer: Any, seconds: float) -> None:
    """Log the answer to a request: status, prediction id (when the answer names one), time taken."""
    pid = answer.get("id") if isinstance(answer, Mapping) else None
    shown = f" prediction {pid}" if isinstance(pid, str) else ""
    log.debug("%s %s %s -> %s%s in %.3fs", provider, method, url.split("?")[0], status, shown, seconds)


def set_verbose(on: bool = True) -> None:
    """Print debug output (see the module docstring); ``False`` undoes it."""
    global _installed, _verbose
    _verbose = bool(on)
    if on:
        _root.setLevel(logging.DEBUG)
        if _installed is None and not _root.hasHandlers():
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(NameOnce("%(asctime)s %(name)s %(levelname)s: %(message)s"))
            _root.addHandler(handler)
            _installed = handler
    else:
        _root.setLevel(logging.NOTSET)
        if _installed is not None:
            _root.removeHandler(_installed)
            _installed = None


def verbose() -> bool:
    return _verbose


def configure_from_environment() -> None:
    """``PATCHWIRE_LOG=debug`` turns debug output on at import."""
    level = os.environ.get(ENV, "").strip().lower()
    if level == "debug":
        set_verbose(True)
    elif level:
        # info, warning, ...: a level for the patchwire logger, with a handler if there is none.
        number = logging.getLevelName(level.upper())
        if isinstance(number, int):
            set_verbose(True)
            _root.setLevel(number)
