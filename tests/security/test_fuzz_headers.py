"""Fuzzing what a client controls besides the body — Authorization, Host, Origin, Content-Type, the path
and the model — with control and non-ASCII characters: never a 5xx, never a traceback in the log, and
neither the proxy's key nor the upstream key in any answer or log line.

Two proxies (one with a key, one without) run in a background thread's event loop, so hypothesis
drives them from plain synchronous tests over raw sockets: nothing normalises the bytes on the way.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import BackgroundServer, llama3_proxy_config

from patchwire.providers.replicate.simulator import ReplicateSimulator, SimulatorConfig
from patchwire.proxy import parse_config, serve_app

KEY = "sk-fuzz-master-key-0123456789"
UPSTREAM_KEY = "r8_fuzz-upstream-key-0123456789"
SECRETS = (KEY, UPSTREAM_KEY, KEY[3:], UPSTREAM_KEY[3:])


class Capture(logging.Handler):
    """Every log record, from any thread, formatted as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.tracebacks: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        self.lines.append(text)
        if record.exc_info or "Traceback" in text:
            self.tracebacks.append(text)


class Proxies(BackgroundServer):
    """A keyed and a keyless proxy, in front of one simulator, on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        self.ports: dict[str, int] = {}

    async def serve(self) -> None:
        sim = ReplicateSimulator(SimulatorConfig(latency=0.0, tokens=2, api_keys={UPSTREAM_KEY}))
        async with sim.serve("127.0.0.1", 0) as sim_url, contextlib.AsyncExitStack() as stack:
            for name, general in (("keyed", {"master_key": KEY}), ("keyless", {})):
                config = parse_config(
                    llama3_proxy_config(
                        sim_url,
                        api_key=UPSTREAM_KEY,
                        params={"max_tokens": 2},
                        general_settings=general,
                        router_settings={"timeout": 10},
                    ),
                    source=f"fuzz-{name}.yaml",
                )
                url = await stack.enter_async_context(serve_app(config, host="127.0.0.1", port=0, grace=1))
                self.ports[name] = int(url.rsplit(":", 1)[1])
            await self.serving()

    def send(self, which: str, raw: bytes) -> tuple[int | None, bytes]:
        """(status or None when the server closed without answering, the whole answer)."""
        with socket.create_connection(("127.0.0.1", self.ports[which]), timeout=15) as sock:
            with contextlib.suppress(ConnectionError):
                sock.sendall(raw)
            data = b""
            with contextlib.suppress(ConnectionError):
                while chunk := sock.recv(65536):
                    data += chunk
        if not data.startswith(b"HTTP/1."):
            return None, data
        return int(data.split(b" ", 2)[1]), data


@pytest.fixture(scope="module")
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture(scope="module")
def proxies(capture: Capture) -> Iterator[Proxies]:
    with Proxies() as running:
        yield running


# Control characters, separators, non-ASCII (Latin-1 and beyond, surrogate-free) and plain text.
ODD = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from(list("\x00\x01\x07\x08\t\n\r\x0b\x0c\x1b\x7f\x85\u2028 :;,/%\"'<>[]{}")),
    max_size=40,
)
AUTHORIZATION = st.one_of(
    st.none(),
    ODD,
    st.builds(lambda junk: f"Bearer {KEY}{junk}", ODD),
    st.builds(lambda junk: f"{junk}Bearer {KEY}", ODD),
    st.builds(lambda junk: f"Bearer {junk}", ODD),
    st.builds(lambda n: f"Bearer {KEY}" + "k" * n, st.integers(0, 10_000)),
)
HOST = st.one_of(st.sampled_from(["127.0.0.1", "localhost:4000", "[::1]", "evil.example", ""]), ODD)
ORIGIN = st.one_of(st.none(), st.sampled_from(["null", "https://evil.example", "http://127.0.0.1"]), ODD)
CONTENT_TYPE = st.one_of(
    st.none(),
    st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "text/plain", "APPLICATION/JSON"]
    ),
    st.builds(lambda junk: f"application/json{junk}", ODD),
    ODD,
)
PATH = st.one_of(
    st.sampled_from(
        ["/v1/chat/completions", "/chat/completions", "/v1/completions", "/v1/models", "/health"]
    ),
    st.builds(lambda junk: f"/v1/models/{junk}", ODD),
    st.builds(lambda junk: f"/{junk}", ODD),
)
MODEL = st.one_of(st.just("llama-3"), ODD, st.builds(lambda junk: f"llama-3{junk}", ODD))
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def header(name: str, value: str | None) -> bytes:
    return b"" if value is None else name.encode() + b": " + value.encode("utf-8") + b"\r\n"


def check(capture: Capture, status: int | None, answer: bytes, context: Any) -> None:
    assert status is None or status < 500, (status, answer[:300], context)
    for secret in SECRETS:
        assert secret.encode() not in answer, (answer[:300], context)
    lines = "\n".join(capture.lines)
    for secret in SECRETS:
        assert secret not in lines, (context, [line for line in capture.lines if secret in line][:3])
    assert not capture.tracebacks, (context, capture.tracebacks[:2])
    if status is not None and status >= 400 and b"application/json" in answer.partition(b"\r\n\r\n")[0]:
        body = answer.partition(b"\r\n\r\n")[2]
        with contextlib.suppress(orjson.JSONDecodeError):  # a chunked body: its framing is not JSON
            error = orjson.loads(body)["error"]
            assert isinstance(error["message"], str) and error["message"], (answer[:300], context)


@FUZZ
@given(
    which=st.sampled_from(["keyed", "keyless"]),
    authorization=AUTHORIZATION,
    host=HOST,
    origin=ORIGIN,
    content_type=CONTENT_TYPE,
    path=PATH,
    model=MODEL,
)
def test_odd_headers_paths_and_models_never_5xx_traceback_or_key(
    proxies: Proxies,
    capture: Capture,
    which: str,
    authorization: str | None,
    host: str,
    origin: str | None,
    content_type: str | None,
    path: str,
    model: str,
) -> None:
    body = orjson.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
    raw = (
        b"POST "
        + path.encode("utf-8")
        + b" HTTP/1.1\r\n"
        + header("Host", host)
        + header("Authorization", authorization)
        + header("Origin", origin)
        + header("Content-Type", content_type)
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    status, answer = proxies.send(which, raw)
    check(capture, status, answer, (which, authorization, host, origin, content_type, path, model))


@FUZZ
@given(which=st.sampled_from(["keyed", "keyless"]), authorization=AUTHORIZATION, path=PATH)
def test_odd_gets_never_5xx_traceback_or_key(
    proxies: Proxies, capture: Capture, which: str, authorization: str | None, path: str
) -> None:
    raw = (
        b"GET "
        + path.encode("utf-8")
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + header("Authorization", authorization)
        + b"Connection: close\r\n\r\n"
    )
    status, answer = proxies.send(which, raw)
    check(capture, status, answer, (which, authorization, path))


def test_the_fuzzed_proxies_still_serve(proxies: Proxies, capture: Capture) -> None:
    body = orjson.dumps({"model": "llama-3", "messages": [{"role": "user", "content": "still there?"}]})
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    status, answer = proxies.send("keyed", head.encode() + body)
    assert status == 200, answer[:300]
    check(capture, status, answer, "final")
    assert any("POST /v1/chat/completions 200" in line for line in capture.lines)  # the log is seen
