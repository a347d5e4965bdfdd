"""Sessions, loops and blocking calls: what scripts and notebooks do to the library."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

from fakes import fake_plugins

import patchwire
from patchwire.stream import SyncStream

SCRIPT = """
import asyncio, gc, sys, threading
from aiohttp import web
sys.path.insert(0, {tests!r})
from fakes import FakeProvider, Formatter, Plugin
import patchwire

# A tiny HTTP server on its own thread and loop, so the provider really uses the router's session.
ready = threading.Event()
port = []
def serve():
    async def hello(request):
        return web.Response(text="pong")
    async def main():
        app = web.Application(); app.router.add_get("/", hello)
        runner = web.AppRunner(app); await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0); await site.start()
        port.append(runner.addresses[0][1]); ready.set()
        await asyncio.Event().wait()
    asyncio.run(main())
threading.Thread(target=serve, daemon=True).start(); ready.wait(10)

class NetProvider(FakeProvider):
    async def complete(self, call):
        async with call.context.session.get(f"http://127.0.0.1:{{port[0]}}/") as resp:
            assert await resp.text() == "pong"
        return await super().complete(call)

net = NetProvider()
# The formatter is forced by name, so no built-in plugin is needed (the script loads none).
patchwire.get_plugins().register(Plugin(providers=[net], formatters=[Formatter("plain-net", [])]), "net")
messages = [{{"role": "user", "content": "hi"}}]
for _ in range(3):  # each asyncio.run is a new loop with its own session
    r = asyncio.run(patchwire.acompletion("fake/acme/chat", messages, format="plain-net"))
    assert r.choices[0].message.content == "hi", r
r = patchwire.completion("fake/acme/chat", messages, format="plain-net")
assert r.choices[0].message.content == "hi"
async def inside_a_running_loop():  # as in a Jupyter cell
    return patchwire.completion("fake/acme/chat", messages, format="plain-net")
assert asyncio.run(inside_a_running_loop()).choices[0].message.content == "hi"
net.calls.clear()  # the fake records calls (and with them the sessions); forget them
gc.collect()
import aiohttp
live = [o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession)]
assert not [s for s in live if not s.closed], "a session was left open"
assert len(live) <= 1, f"sessions of finished loops are kept alive: {{len(live)}}"
print("ok")
"""


def test_repeated_asyncio_run_leaves_no_unclosed_session(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    source = SCRIPT.format(tests=str(Path(__file__).parents[1]))
    script.write_text(textwrap.dedent(source))
    result = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-X", "dev", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATCHWIRE_PLUGINS": "", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "Unclosed" not in result.stderr, result.stderr


def test_blocking_stream_is_a_plain_iterator_and_cleans_up() -> None:
    plugins, provider = fake_plugins()
    router = patchwire.Router(plugins=plugins)
    stream = SyncStream(
        lambda: router.acompletion("fake/acme/chat", [{"role": "user", "content": "a b c"}], stream=True)
    )
    with stream:
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == "a b c" and provider.closed_streams == 1


def test_blocking_stream_closed_early_closes_the_provider_iterator() -> None:
    plugins, provider = fake_plugins()
    router = patchwire.Router(plugins=plugins)
    stream = SyncStream(
        lambda: router.acompletion("fake/acme/chat", [{"role": "user", "content": "a b c"}], stream=True)
    )
    next(iter(stream))
    stream.close()
    assert provider.closed_streams == 1


def test_blocking_stream_raises_start_errors_at_once() -> None:
    plugins, _ = fake_plugins()
    router = patchwire.Router(plugins=plugins)
    try:
        SyncStream(lambda: router.acompletion("fake/acme/chat", [], stream=True))
    except patchwire.BadRequestError as exc:
        assert "messages is empty" in str(exc)
    else:
        raise AssertionError("an empty conversation must be refused when the stream starts")


async def test_cancelling_a_call_propagates_and_frees_the_slot() -> None:
    plugins, provider = fake_plugins()
    started = asyncio.Event()

    real_complete = provider.complete
    block = [True]

    async def slow_complete(call: patchwire.ProviderCall) -> patchwire.ChatResponse:
        if not block[0]:
            return await real_complete(call)
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    provider.complete = slow_complete  # type: ignore[method-assign]
    async with patchwire.Router(plugins=plugins, max_concurrency=1) as router:
        task = asyncio.create_task(router.acompletion("fake/acme/chat", [{"role": "user", "content": "x"}]))
        await started.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the call must end cancelled")
        block[0] = False
        response = await asyncio.wait_for(
            router.acompletion("fake/acme/chat", [{"role": "user", "content": "x"}]), timeout=5
        )
    assert response.choices[0].message.content == "x"


async def test_deadline_backstop_raises_timeout() -> None:
    plugins, provider = fake_plugins()

    async def never(call: patchwire.ProviderCall) -> patchwire.ChatResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    provider.complete = never  # type: ignore[method-assign]
    import patchwire.router as router_module

    original = router_module.DEADLINE_GRACE
    router_module.DEADLINE_GRACE = 0.0
    try:
        async with patchwire.Router(plugins=plugins) as router:
            try:
                await router.acompletion("fake/acme/chat", [{"role": "user", "content": "x"}], timeout=0.05)
            except patchwire.Timeout as exc:
                assert exc.status_code == 408 and "timeout=0.05s" in str(exc)
            else:
                raise AssertionError("expected Timeout")
    finally:
        router_module.DEADLINE_GRACE = original
