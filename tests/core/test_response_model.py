"""Which model name a library call's answer carries when it goes through a named route (an alias).

LiteLLM's ``Router`` hands back the deployment's own answer, so ``response.model`` is the upstream
model string, not the alias; patchwire's library does the same for every kind of answer (chat and text
completions, plain and streamed). The proxy answers with the name the client asked for
(tests/proxy/test_text_completions.py). Real HTTP to the simulator on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

from support import TEST_KEY, StartSimulator

import patchwire

UPSTREAM = "replicate/meta/meta-llama-3-8b-instruct"
MESSAGES: Any = [{"role": "user", "content": "Hi"}]


async def test_a_named_route_answers_with_the_upstream_model_string(start_simulator: StartSimulator) -> None:
    running = await start_simulator(tokens=3)
    route = patchwire.ModelRoute(UPSTREAM, api_base=running.url, api_key=TEST_KEY)
    missing = patchwire.ModelRoute("replicate/acme/no-such-model", api_base=running.url, api_key=TEST_KEY)
    routes = {"my-llama": [route], "missing": [missing]}
    async with patchwire.Router(routes=routes, fallbacks={"missing": ["my-llama"]}) as router:
        chat = await router.acompletion("my-llama", MESSAGES)
        fell_back = await router.acompletion("missing", MESSAGES)
        async with await router.acompletion("my-llama", MESSAGES, stream=True) as stream:
            chunk_models = {chunk.model async for chunk in stream}
        text = await router.atext_completion("my-llama", ["Once", "Twice"])
        async with await router.atext_completion(
            "my-llama", "Once", stream=True, stream_options={"include_usage": True}, echo=True
        ) as text_stream:
            pieces = [piece async for piece in text_stream]
    assert isinstance(chat, patchwire.ChatResponse) and chat.model == UPSTREAM
    assert isinstance(fell_back, patchwire.ChatResponse) and fell_back.model == UPSTREAM
    assert chunk_models == {UPSTREAM}
    assert isinstance(text, patchwire.TextCompletion) and text.model == UPSTREAM
    assert len(pieces) > 2 and {piece.model for piece in pieces} == {UPSTREAM}
    assert pieces[-1].usage is not None  # the usage piece too
