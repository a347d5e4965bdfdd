"""Hostile input to the proxy: whatever bytes a client sends (malformed JSON, wrong types, huge or deeply
nested bodies, invalid UTF-8, unknown fields, CR/LF in model names and headers, path tricks), the answer
is a 4xx — in the OpenAI error shape wherever the request got as far as HTTP parsing — never a 500, never
a hang, and the proxy keeps serving.

The proxy (and a simulator behind it) runs on its own event loop in a thread, so hypothesis drives it
from plain synchronous tests over raw sockets (nothing normalises the bytes on the way).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import BackgroundServer, llama3_proxy_config, parse_answer

from patchwire.providers.replicate.simulator import ReplicateSimulator, SimulatorConfig
from patchwire.proxy import parse_config, serve_app

KEY = "sk-hostile-master-key"
UPSTREAM_KEY = "r8_hostile-upstream-key"
MAX_BYTES = 1 << 20  # the proxy's body limit here (max_request_size_mb: 1)
SOCKET_TIMEOUT = 15.0  # an answer slower than this is a hang


class Proxy(BackgroundServer):
    """A proxy on 127.0.0.1 served from a background thread's event loop."""

    start_timeout = 10.0

    def __init__(self) -> None:
        super().__init__()
        self.port = 0

    async def serve(self) -> None:
        sim = ReplicateSimulator(SimulatorConfig(latency=0.0, tokens=3, api_keys={UPSTREAM_KEY}))
        async with sim.serve("127.0.0.1", 0) as sim_url:
            config = parse_config(
                llama3_proxy_config(
                    sim_url,
                    api_key=UPSTREAM_KEY,
                    params={"max_tokens": 3},
                    general_settings={"master_key": KEY, "max_request_size_mb": MAX_BYTES / (1 << 20)},
                    router_settings={"timeout": 10},
                ),
                source="hostile.yaml",
            )
            async with serve_app(config, host="127.0.0.1", port=0, grace=1) as url:
                self.port = int(url.rsplit(":", 1)[1])
                await self.serving()

    def send(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send raw request bytes on a fresh connection; (status, headers, body) of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=SOCKET_TIMEOUT) as sock:
            with contextlib.suppress(ConnectionError):  # the server may answer (and close) mid-upload
                sock.sendall(raw)
            data = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    data += chunk
        answer = parse_answer(data)
        return answer.status, answer.headers, answer.body

    def post(
        self, body: bytes, *, path: str = "/v1/chat/completions", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n{extra}\r\n"
        )
        return self.send(head.encode("latin-1") + body)


@pytest.fixture(scope="module")
def proxy() -> Iterator[Proxy]:
    with Proxy() as running:
        yield running
        # After everything the module threw at it, a normal request still succeeds.
        status, _, body = running.post(
            orjson.dumps({"model": "llama-3", "messages": [{"role": "user", "content": "still there?"}]})
        )
        assert status == 200, body
        assert orjson.loads(body)["choices"][0]["message"]["content"]


def assert_openai_4xx(status: int, body: bytes, context: Any = None) -> dict[str, Any]:
    assert 400 <= status < 500, (status, body[:300], context)
    error = orjson.loads(body)["error"]
    assert isinstance(error["message"], str) and error["message"], (body, context)
    assert isinstance(error["type"], str) and error["type"], (body, context)
    assert set(error) == {"message", "type", "param", "code"}
    return dict(error)


def assert_not_5xx(status: int, body: bytes, context: Any = None) -> None:
    assert status < 500, (status, body[:300], context)
    if status >= 400:
        assert_openai_4xx(status, body, context)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
JSON = st.recursive(
    SCALARS | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


# -- bodies -----------------------------------------------------------------------------------------


@FAST
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_are_a_4xx(proxy: Proxy, raw: bytes) -> None:
    status, _, body = proxy.post(raw)
    assert_openai_4xx(status, body, raw)


@FAST
@given(value=JSON)
def test_any_json_value_that_is_not_a_request_is_a_4xx(proxy: Proxy, value: Any) -> None:
    status, _, body = proxy.post(orjson.dumps(value))
    assert_openai_4xx(status, body, value)


@FAST
@given(
    fields=st.dictionaries(st.text(min_size=1, max_size=15), JSON, max_size=4),
    messages=JSON | st.just([{"role": "user", "content": "hi"}]),
    model=st.sampled_from(["llama-3", "llama-3\r\nX-Injected: 1", "../llama-3", "", "LLAMA-3"]) | JSON,
)
def test_requests_with_odd_fields_and_types_are_never_a_5xx(
    proxy: Proxy, fields: dict[str, Any], messages: Any, model: Any
) -> None:
    request = {**fields, "model": model, "messages": messages}
    status, headers, body = proxy.post(orjson.dumps(request))
    assert_not_5xx(status, body, request)
    assert "x-injected" not in headers


def test_deep_nesting_beyond_the_parser_limit_is_a_400(proxy: Proxy) -> None:
    depth = 100_000
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        status, _, body = proxy.post(raw)
        assert status in (400, 413), status
        assert_openai_4xx(status, body)


@pytest.mark.parametrize("depth", [50, 500, 1000])
@pytest.mark.parametrize("field", ["messages", "temperature", "stop", "metadata", "unheard_of"])
def test_deep_nesting_inside_fields_is_not_a_500(proxy: Proxy, field: str, depth: int) -> None:
    nested = b"[" * depth + b'"x"' + b"]" * depth
    raw = (
        b'{"model":"llama-3","messages":[{"role":"user","content":"hi"}],"' + field.encode() + b'":' + nested
    )
    raw = raw.replace(b'"messages":[{"role":"user","content":"hi"}],"messages":', b'"messages":') + b"}"
    status, _, body = proxy.post(raw)
    assert_not_5xx(status, body, (field, depth))
    if depth > 100:  # refused up front: code that recurses over it (repr, orjson.dumps) would fail
        assert status == 400 and "levels deep" in orjson.loads(body)["error"]["message"]


def test_huge_bodies_are_413_and_huge_content_within_the_limit_is_served_or_refused(proxy: Proxy) -> None:
    too_big = orjson.dumps(
        {"model": "llama-3", "messages": [{"role": "user", "content": "x" * (MAX_BYTES + 10)}]}
    )
    status, _, body = proxy.post(too_big)
    error = assert_openai_4xx(status, body)
    assert status == 413 and "max_request_size_mb" in error["message"]
    many = {"model": "llama-3", "messages": [{"role": "user", "content": "y"}] * 20_000}
    status, _, body = proxy.post(orjson.dumps(many))
    assert_not_5xx(status, body)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model":"llama-3","messages":[{"role":"user","content":"\xff\xfe"}]}',
        b'{"model":"llama-\xc3","messages":[]}',
        b'{"model":"llama-3","messages":[{"role":"user","content":"\\ud800"}]}',
        b'\xef\xbb\xbf{"model":"llama-3","messages":[{"role":"user","content":"bom"}]}',
        b'{"model":"llama-3","messages":[{"role":"user","content":"a\x00b"}]}',
        b'{"model":"llama-3","messages":[{"role":"user","content":"hi"}],"max_tokens":1e999}',
        b'{"model":"llama-3","messages":[{"role":"user","content":"hi"}],"max_tokens":99999999999999999999999}',
        b'{"model":"llama-3","model":"other","messages":[]}',
        b"\x00" * 64,
    ],
)
def test_invalid_utf8_control_bytes_and_odd_numbers_are_4xx(proxy: Proxy, raw: bytes) -> None:
    status, _, body = proxy.post(raw)
    assert_not_5xx(status, body, raw)
    assert status != 200 or raw.startswith(b'{"model":"llama-3","messages":[{"role":"user","content":"a')


# -- headers and paths ------------------------------------------------------------------------------


def test_crlf_in_the_model_name_does_not_inject_headers(proxy: Proxy) -> None:
    model = "llama-3\r\nSet-Cookie: stolen=1\r\n\r\n"
    status, headers, body = proxy.post(orjson.dumps({"model": model, "messages": []}))
    assert_openai_4xx(status, body)
    assert "set-cookie" not in headers


@pytest.mark.parametrize(
    "header",
    [
        "X-Evil: a\x00b",
        "Authorization: Bearer sk\x00hostile",
        "X-Long: " + "a" * 100_000,
        "Content-Type: text/plain",
        "Content-Type: application/json; charset=latin-1",
        "Transfer-Encoding: chunked",
        "Content-Length: -1",
    ],
)
def test_odd_headers_are_refused_or_served_never_a_5xx(proxy: Proxy, header: str) -> None:
    body = orjson.dumps({"model": "llama-3", "messages": [{"role": "user", "content": "hi"}]})
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{header}\r\n\r\n"
    )
    status, _, answer = proxy.send(head.encode("latin-1") + body)
    # Malformed HTTP is refused by the HTTP parser itself (a plain 400, before any route or JSON).
    assert status < 500, (status, answer[:200])


@pytest.mark.parametrize(
    "path",
    [
        "/v1/../v1/models",
        "/v1/%2e%2e/v1/models",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/v1/models/..%2f..%2fetc%2fpasswd",
        "/v1/models/%00",
        "/v1/chat/completions%00",
        "//v1//models",
        "/v1/models/" + "a" * 6000,
        "/health/../v1/models",
        "/health%2f..%2fv1%2fmodels",
        "/v1/models?model=../../x",
    ],
)
@pytest.mark.parametrize("authorized", [True, False])
def test_path_tricks_are_4xx_and_never_bypass_the_key(proxy: Proxy, path: str, authorized: bool) -> None:
    auth = f"Authorization: Bearer {KEY}\r\n" if authorized else ""
    raw = f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n".encode()
    status, _, body = proxy.send(raw)
    if not authorized:
        assert status in (400, 401, 404, 414), (status, body[:200])
        if status == 401:
            assert_openai_4xx(status, body)
        return
    assert status < 500, (status, body[:200])
    if status >= 400:
        assert_openai_4xx(status, body, path)


def test_very_long_request_line_and_raw_null_bytes_are_refused(proxy: Proxy) -> None:
    for raw in (
        b"GET /v1/models/" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /v1/mo\x00dels HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ):
        status, _, _ = proxy.send(raw)
        assert 400 <= status < 500, (status, raw[:40])


def test_wrong_methods_are_405_in_the_openai_shape(proxy: Proxy) -> None:
    for method in ("PUT", "DELETE", "PATCH", "GET"):
        raw = (
            f"{method} /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        status, _, body = proxy.send(raw.encode())
        assert status == 405
        assert_openai_4xx(status, body)
