"""An OpenAI message's other fields on their way into a model's native ``messages`` input: ``name``
reaches every such model; assistant ``tool_calls`` and a tool message's ``tool_call_id`` reach a
model that takes ``tools`` (Granite), and a model that takes none (the OpenAI models on Replicate)
gets a 400 before anything is sent, never a conversation it would refuse or one silently changed.
End to end against the simulator, which serves these models with their published schemas."""

from __future__ import annotations

from typing import Any

import pytest
from support import RunningSimulator

import patchwire

GPT = "openai/gpt-5"
GRANITE = "ibm-granite/granite-3.3-8b-instruct"
CALL = {"id": "call_7", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
TOOL_TURNS: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "content": None, "tool_calls": [{**CALL, "index": 0}]},
    {"role": "tool", "tool_call_id": "call_7", "content": "-3 C, snow"},
    {"role": "user", "content": "So?"},
]


async def call(simulator: RunningSimulator, model: str, messages: Any, **params: Any) -> None:
    async with patchwire.Router() as router:
        await router.acompletion(f"replicate/{model}", messages, api_base=simulator.url, **params)


@pytest.mark.parametrize("model", [GPT, GRANITE])
async def test_a_name_reaches_the_native_messages(
    simulator: RunningSimulator, replicate_key: str, model: str
) -> None:
    messages = [
        {"role": "system", "content": "Be brief.", "name": "rules"},
        {"role": "user", "content": "Hi", "name": "alice_1"},
        {"role": "assistant", "content": "Hello!", "name": "bot-2"},
        {"role": "user", "content": "And you?"},
    ]
    await call(simulator, model, messages)
    (prediction,) = simulator.sim.predictions.values()
    assert prediction.input["messages"] == messages


@pytest.mark.parametrize("name", ["Alice Smith", "a.b", "", "@bob", "x" * 65, "é"])
async def test_a_name_openai_would_refuse_is_a_400(
    simulator: RunningSimulator, replicate_key: str, name: str
) -> None:
    messages = [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hi", "name": name}]
    with pytest.raises(patchwire.BadRequestError, match="letters, digits") as caught:
        await call(simulator, GPT, messages)
    assert caught.value.param == "messages[1].name"
    assert not simulator.sim.predictions


async def test_tool_calls_reach_a_model_that_takes_tools(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    await call(simulator, GRANITE, TOOL_TURNS)
    (prediction,) = simulator.sim.predictions.values()
    assert prediction.input["messages"] == [
        TOOL_TURNS[0],
        {"role": "assistant", "content": "", "tool_calls": [CALL]},  # only OpenAI's keys of a call
        TOOL_TURNS[2],
        TOOL_TURNS[3],
    ]


async def test_tool_calls_to_a_model_without_tools_are_a_400(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    with pytest.raises(patchwire.BadRequestError, match="takes no tools") as caught:
        await call(simulator, GPT, TOOL_TURNS)
    assert caught.value.param == "messages[1]"
    with pytest.raises(patchwire.BadRequestError, match="takes no tools") as caught:
        await call(simulator, GPT, [TOOL_TURNS[0], {"role": "tool", "tool_call_id": "c", "content": "x"}])
    assert caught.value.param == "messages[1]"
    assert not simulator.sim.predictions


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "tool", "content": "-3 C"}, "messages[1].tool_call_id"),
        ({"role": "tool", "content": "-3 C", "tool_call_id": "call 7\n"}, "messages[1].tool_call_id"),
        ({"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}, "messages[1].tool_calls[0]"),
        (
            {"role": "assistant", "content": None, "tool_calls": [{**CALL, "function": {"name": "w"}}]},
            "messages[1].tool_calls[0]",
        ),
        (
            {"role": "assistant", "content": None, "tool_calls": [{**CALL, "type": "code"}]},
            "messages[1].tool_calls[0]",
        ),
        ({"role": "assistant", "content": None, "tool_calls": [CALL] * 129}, "messages[1].tool_calls"),
        ({"role": "user", "content": "x", "tool_call_id": "call_7"}, "messages[1].tool_call_id"),
    ],
)
async def test_malformed_tool_fields_are_a_400(
    simulator: RunningSimulator, replicate_key: str, message: dict[str, Any], param: str
) -> None:
    with pytest.raises(patchwire.BadRequestError) as caught:
        await call(simulator, GRANITE, [TOOL_TURNS[0], message])
    assert caught.value.param == param
    assert not simulator.sim.predictions
