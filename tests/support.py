"""Helpers the tests share: the test key, a bounded wait, the running-simulator handle."""

from __future__ import annotations

import asyncio
import re
import selectors
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import attrs

from patchwire.testing import TEST_KEY, FakeReplicate, StartFakeReplicate

#: The request of LiteLLM's Replicate examples, and the Llama 3 prompt LiteLLM sends Replicate for it.
EARTH: list[Any] = [
    {"role": "system", "content": "Be a good human!"},
    {"role": "user", "content": "What do you know about earth?"},
]
EARTH_LLAMA3_PROMPT = (
    "<|start_header_id|>system<|end_header_id|>\n\nBe a good human!<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nWhat do you know about earth?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)
# Zephyr's chat template (HuggingFaceH4/zephyr-7b-beta, tokenizer_config.json), as published.
ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] "
    "+ eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + "
    "eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n"
    "{% endif %}\n{% endfor %}"
)


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds, yielding to the loop between checks; fail after ``timeout``
    seconds (a bound, never a sleep that makes a race pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout:g}s")
        await asyncio.sleep(0.005)


def install_distribution(site: Path, dist: str, module: str, source: str, entry_name: str) -> None:
    """Lay a distribution out in ``site`` exactly as pip would: module plus .dist-info with entry points."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[patchwire]\n{entry_name} = {module}\n")
    (info / "RECORD").write_text("")


#: A running simulator (``patchwire.testing.FakeReplicate``: ``sim``, ``url``, ``api_key``).
RunningSimulator = FakeReplicate
StartSimulator = StartFakeReplicate


@attrs.frozen
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import orjson

        return orjson.loads(self.body)


async def raw_request(url: str, raw: bytes, *, timeout: float = 10.0) -> RawAnswer:
    """Send ``raw`` bytes, exactly as given, on a new connection to ``url`` (``http://host:port``) and
    read the answer until the server closes (send ``Connection: close``)."""
    host, _, port = url.removeprefix("http://").rpartition(":")
    reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
    try:
        writer.write(raw)
        async with asyncio.timeout(timeout):
            data = await reader.read()
    finally:
        writer.close()
    return parse_answer(data)


def parse_answer(data: bytes) -> RawAnswer:
    """An HTTP/1.x answer read off a socket, whole: status, headers (names lower-cased) and body (a
    chunked body decoded)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0].startswith(b"HTTP/1."), f"no HTTP answer: {data[:200]!r}"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return RawAnswer(int(lines[0].split()[1]), headers, body)


def dechunk(body: bytes) -> bytes:
    """A ``Transfer-Encoding: chunked`` body as the bytes it carries (up to the last chunk)."""
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


class RedisServer:
    """A real ``redis-server`` on a free 127.0.0.1 port, with nothing saved to disk; ``stop()`` and
    ``start()`` again (same port) to test what happens while Redis is gone."""

    def __init__(self, directory: str) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.directory = directory
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import shutil
        import socket
        import subprocess

        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (apt-get install -y redis-server)"
        self.process = subprocess.Popen(
            [
                *(binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", self.directory, "--protected-mode", "yes"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10.0
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


__all__ = [
    "TEST_KEY",
    "RawAnswer",
    "RedisServer",
    "RunningSimulator",
    "StartSimulator",
    "install_distribution",
    "raw_request",
    "wait_for",
]


class BackgroundServer:
    """Servers on 127.0.0.1 run by a background thread's event loop, for plain synchronous tests: a
    subclass's ``serve()`` starts them and awaits ``self.serving()``, which returns when the ``with``
    block ends (then ``serve()`` leaves its own blocks and shuts them down)."""

    #: Seconds to wait for ``serve()`` to start, and for it to finish after the block.
    start_timeout = 15.0

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def serve(self) -> None:
        raise NotImplementedError

    async def serving(self) -> None:
        self._ready.set()
        assert self._stop is not None
        await self._stop.wait()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.serve()

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(self.start_timeout), f"{type(self).__name__} did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(self.start_timeout)


async def announced_url(proc: asyncio.subprocess.Process, timeout: float = 30) -> str:
    """The base URL a ``patchwire serve`` or ``patchwire fake-replicate`` process (started with
    ``stdout=PIPE``) prints on its first line, ``... listening on URL``."""
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode()
    match = re.search(r"listening on (http://\S+)", line)
    assert match, line
    return match.group(1)


def announced_url_now(proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    """``announced_url`` for a process started with ``subprocess.Popen`` (outside an event loop)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), f"no URL announced within {timeout:g}s"
    line = proc.stdout.readline().decode()
    match = re.search(r"listening on (http://\S+)", line)
    assert match, line
    return match.group(1)


def llama3_proxy_config(
    api_base: str, *, api_key: str = TEST_KEY, params: dict[str, Any] | None = None, **sections: Any
) -> dict[str, Any]:
    """A proxy config serving one model, ``llama-3``: Replicate's Llama 3 8B Instruct at ``api_base``.
    ``params`` are added to its ``litellm_params``; each keyword (``general_settings=...``,
    ``router_settings=...``) is a section of the config."""
    litellm_params = {
        "model": "replicate/meta/meta-llama-3-8b-instruct",
        "api_key": api_key,
        "api_base": api_base,
        **(params or {}),
    }
    return {"model_list": [{"model_name": "llama-3", "litellm_params": litellm_params}], **sections}
