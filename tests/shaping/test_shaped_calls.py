"""Shaped calls end to end: what reaches the (simulated) Replicate API over HTTP, through the library and
through the proxy, for models registered here with schemas of each shape."""

from __future__ import annotations

from typing import Any

import pytest
from support import RunningSimulator

import patchwire

S = {"type": "string"}
URI = {"type": "string", "format": "uri"}

CLAUDE_LIKE = {
    "prompt": S,
    "image": URI,
    "system_prompt": {**S, "default": ""},
    "max_tokens": {"type": "integer", "default": 8192, "minimum": 1024, "maximum": 64000},
}
GPT_LIKE = {
    "prompt": S,
    "system_prompt": S,
    "messages": {"type": "array", "default": [], "items": {"type": "object"}},
    "image_input": {"type": "array", "default": [], "items": URI},
    "max_completion_tokens": {"type": "integer"},
}
TEXT_ONLY = {"prompt": S, "max_tokens": {"type": "integer", "default": 512}}

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ],
    },
]


def register(simulator: RunningSimulator) -> None:
    sim = simulator.sim
    sim.add_model("acme", "claude-like", schema_inputs=CLAUDE_LIKE, required=("prompt",), official=True)
    sim.add_model("acme", "gpt-like", schema_inputs=GPT_LIKE, required=(), official=True)
    sim.add_model("acme", "text-only", schema_inputs=TEXT_ONLY, required=("prompt",), official=True)


def inputs_of(simulator: RunningSimulator) -> list[dict[str, Any]]:
    return [dict(p.input) for p in simulator.sim.predictions.values()]


@pytest.mark.parametrize("stream", [False, True])
async def test_system_prompt_image_and_token_limit(
    simulator: RunningSimulator, replicate_key: str, stream: bool
) -> None:
    register(simulator)
    async with patchwire.Router() as router:
        result = await router.acompletion(
            "replicate/acme/claude-like", CONVERSATION, api_base=simulator.url, stream=stream, max_tokens=2048
        )
        if stream:
            text = "".join([c.choices[0].delta.content or "" async for c in result if c.choices])
        else:
            text = result.choices[0].message.content
    assert text
    assert inputs_of(simulator) == [
        {
            "system_prompt": "Be brief.",
            "prompt": "User: Hi\n\nAssistant: Hello!\n\nUser: What is this?\n\nAssistant:",
            "image": "https://example.com/cat.png",
            "max_tokens": 2048,
        }
    ]


async def test_messages_model(simulator: RunningSimulator, replicate_key: str) -> None:
    register(simulator)
    async with patchwire.Router() as router:
        await router.acompletion(
            "replicate/acme/gpt-like", CONVERSATION, api_base=simulator.url, max_tokens=100
        )
    assert inputs_of(simulator) == [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "What is this?"},
            ],
            "image_input": ["https://example.com/cat.png"],
            "max_completion_tokens": 100,
        }
    ]


@pytest.mark.parametrize(
    ("model", "params", "problem"),
    [
        ("replicate/acme/text-only", {}, "takes no images"),
        ("replicate/acme/claude-like", {"max_tokens": 100}, "must be >= 1024"),
        ("replicate/acme/gpt-like", {"reasoning_effort": "extreme"}, "not a reasoning effort"),
    ],
)
async def test_bad_input_is_refused_before_any_prediction(
    simulator: RunningSimulator, replicate_key: str, model: str, params: dict[str, Any], problem: str
) -> None:
    register(simulator)
    async with patchwire.Router() as router:
        with pytest.raises(patchwire.BadRequestError, match=problem):
            await router.acompletion(model, CONVERSATION, api_base=simulator.url, **params)
    assert not simulator.sim.predictions
    assert not [r for r in simulator.sim.requests if r.method == "POST"]
