"""Which links in Replicate's answers the key follows: the API origin and Replicate's own https hosts,
nothing else; with api_base set, only links on Replicate's API origin are moved onto it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from support import TEST_KEY, wait_for

import patchwire
from patchwire import RejectedURLError
from patchwire.providers.replicate.links import Links

STREAM = "https://streaming-api.svc.rno2.c.replicate.net/v1/streams/tok"
MSGS = [{"role": "user", "content": "Hello"}]
LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"


@pytest.mark.parametrize(
    ("api_base", "url", "expected"),
    [
        (
            None,
            "https://api.replicate.com/v1/predictions/abc",
            "https://api.replicate.com/v1/predictions/abc",
        ),
        (None, STREAM, STREAM),
        (None, "https://replicate.com/p/abc", "https://replicate.com/p/abc"),
        # A stream link lives on its own host: its path exists only there, so it is never moved.
        ("https://api.replicate.com", STREAM, STREAM),
        ("http://127.0.0.1:5000", STREAM, STREAM),
        # Links on Replicate's API origin are moved onto api_base (a proxy in front of Replicate).
        (
            "http://127.0.0.1:5000",
            "https://api.replicate.com/v1/predictions/abc",
            "http://127.0.0.1:5000/v1/predictions/abc",
        ),
        (
            "https://proxy.example/replicate",
            "https://api.replicate.com/v1/predictions?cursor=2",
            "https://proxy.example/replicate/v1/predictions?cursor=2",
        ),
        (
            "https://proxy.example/replicate",
            "https://proxy.example/replicate/v1/predictions/x",
            "https://proxy.example/replicate/v1/predictions/x",
        ),
        (
            "https://proxy.example/replicate",
            "https://proxy.example/v1/predictions/x",
            "https://proxy.example/replicate/v1/predictions/x",
        ),
        (
            "http://127.0.0.1:5000/v1",
            "http://127.0.0.1:5000/v1/predictions/x",
            "http://127.0.0.1:5000/v1/predictions/x",
        ),
    ],
)
def test_links_the_key_may_follow(api_base: str | None, url: str, expected: str) -> None:
    assert Links(api_base).follow(url, "fallback") == expected


@pytest.mark.parametrize("api_base", [None, "http://127.0.0.1:5000", "https://api.replicate.com"])
@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/v1/predictions/abc",
        "http://api.replicate.com/v1/predictions/abc",  # not over https
        "http://streaming-api.svc.rno2.c.replicate.net/v1/streams/tok",
        "https://api.replicate.com.evil.example/v1/predictions/abc",
        "https://evilreplicate.com/v1/predictions/abc",
        "https://replicate.net.evil.example/v1/streams/tok",
        "https://api.replicate.com:8443/v1/predictions/abc",
        "https://user:pw@api.replicate.com/v1/predictions/abc",
        "https://api.replicate.com\\@evil.example/v1/predictions/abc",
        "https://api.replicate.com/v1/predictions/abc\r\nX-Injected: 1",
        "https://api.replicate.com/v1/pr\u00e9dictions",
        "//evil.example/v1/predictions/abc",
        "/v1/predictions/abc",
        "http://127.0.0.1:5001/v1/predictions/abc",
        "https://127.0.0.1:5000/v1/predictions/abc",
    ],
)
def test_links_anywhere_else_are_refused(api_base: str | None, url: str) -> None:
    with pytest.raises(RejectedURLError) as info:
        Links(api_base).follow(url, "fallback")
    message = str(info.value)
    assert message.startswith("Rejected prediction URL")
    assert info.value.status_code == 502
    assert "evil.example/v1" not in message and "pw" not in message and "\n" not in message


def test_a_missing_link_uses_the_fallback_and_a_refused_cancel_link_too() -> None:
    links = Links(None)
    assert links.follow(None, "https://api.replicate.com/v1/predictions/x") == (
        "https://api.replicate.com/v1/predictions/x"
    )
    fallback = "https://api.replicate.com/v1/predictions/x/cancel"
    assert links.follow_or("https://evil.example/cancel", fallback) == fallback


# -- end to end: a hostile or pass-through upstream ------------------------------------------------

Serve = Callable[[web.Application], Any]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``url = await serve(app)``: the app on 127.0.0.1, stopped after the test."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def upstream(links: Callable[[str], dict[str, str]], seen: list[tuple[str, str, str]]) -> web.Application:
    """An API that creates prediction ``p1`` (links as ``links(own url)`` says), which has succeeded."""
    prediction = {"id": "p1", "status": "succeeded", "output": ["Hi", " there"], "input": {}}

    async def record(request: web.Request) -> None:
        seen.append((request.method, request.path, request.headers.get("Authorization", "")))

    async def create(request: web.Request) -> web.Response:
        await record(request)
        own = f"http://{request.host}"
        return web.json_response({"id": "p1", "status": "starting", "urls": links(own)}, status=201)

    async def answer(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response(prediction)

    async def no_schema(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"detail": "not found"}, status=404)

    app = web.Application()
    app.router.add_get("/v1/models/meta/meta-llama-3-8b-instruct", no_schema)
    app.router.add_post("/v1/models/meta/meta-llama-3-8b-instruct/predictions", create)
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


@pytest.mark.parametrize("stream", [False, True])
async def test_a_link_to_another_origin_never_receives_the_key(
    serve: Serve, router: patchwire.Router, stream: bool
) -> None:
    stolen: list[tuple[str, str, str]] = []
    attacker = await serve(upstream(lambda own: {}, stolen))
    seen: list[tuple[str, str, str]] = []
    api = await serve(
        upstream(
            lambda own: {
                "get": f"{attacker}/v1/predictions/p1",
                "stream": f"{attacker}/v1/streams/p1",
                "cancel": f"{attacker}/v1/predictions/p1/cancel",
            },
            seen,
        )
    )
    with pytest.raises(RejectedURLError) as info:
        result = await router.acompletion(
            LLAMA3, MSGS, api_key=TEST_KEY, api_base=api, stream=stream, max_tokens=5
        )
        if stream:
            async for _ in result:
                pass
    assert "Rejected prediction URL" in str(info.value) and TEST_KEY not in str(info.value)
    assert stolen == []
    # The prediction is still cancelled: by its id, on the API base the caller chose.
    await wait_for(lambda: ("POST", "/v1/predictions/p1/cancel", f"Bearer {TEST_KEY}") in seen)


async def test_links_on_replicates_api_origin_are_followed_through_api_base(
    serve: Serve, router: patchwire.Router
) -> None:
    seen: list[tuple[str, str, str]] = []
    api = await serve(upstream(lambda own: {"get": "https://api.replicate.com/v1/predictions/p1"}, seen))
    response = await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=api, max_tokens=5)
    assert response.choices[0].message.content == "Hi there"
    assert ("GET", "/v1/predictions/p1", f"Bearer {TEST_KEY}") in seen
