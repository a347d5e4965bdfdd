"""Outputs of every shape: a token list, one string, nothing; and output that is not text is a
ProviderError naming what came back, never a stringified guess."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import RunningSimulator, StartSimulator, wait_for

import patchwire
from patchwire.providers.replicate.output import output_pieces, output_text
from patchwire.providers.replicate.responses import chat_response

LABEL = "replicate/acme/model"


@pytest.mark.parametrize(
    ("output", "text"),
    [(["Hel", "lo", ""], "Hello"), ("Hello", "Hello"), ([], ""), (None, ""), ("", "")],
)
def test_text_outputs(output: Any, text: str) -> None:
    assert output_text(output, LABEL, "p1") == text
    response = chat_response({"id": "p1", "output": output}, LABEL, {"prompt": "Hi"})
    assert response.choices[0].message.content == text


@pytest.mark.parametrize(
    ("output", "named"),
    [
        (42, "int 42"),
        ([1, 2], "a list holding int items"),
        (["a", None], "a list holding null items"),
        ([["a"], ["b"]], "a list holding list items"),
        ({"text": "hi"}, "an object ({'text': 'hi'})"),
        ([{"text": "hi"}], "a list holding dict items"),
    ],
)
def test_non_text_output_is_a_provider_error(output: Any, named: str) -> None:
    with pytest.raises(patchwire.ProviderError) as caught:
        output_pieces(output, LABEL, "p1")
    assert named in str(caught.value)
    assert "p1" in str(caught.value) and LABEL in str(caught.value)


def test_reasoning_is_split_from_the_answer() -> None:
    response = chat_response(
        {"id": "p1", "output": ["<think>", "Paris is", " the capital.", "</think>", "\n\nParis."]},
        LABEL,
        {"prompt": "Capital of France?"},
    )
    message = response.choices[0].message
    assert (message.content, message.reasoning_content) == ("Paris.", "Paris is the capital.")
    assert response.to_dict()["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Paris.",
        "reasoning_content": "Paris is the capital.",
    }
    plain = chat_response({"id": "p2", "output": ["Paris."]}, LABEL, {"prompt": "?"})
    assert "reasoning_content" not in plain.to_dict()["choices"][0]["message"]


@pytest.mark.parametrize(
    ("model", "chunks", "named"),
    [
        ("meta/meta-llama-3-8b-instruct", [1, 2, 3], "a list holding int items"),
        ("meta/meta-llama-3-8b-instruct", ["a", None, "b"], "a list holding null items"),
        ("google-deepmind/gemma-3-27b-it", [{"answer": "hi"}], "an object"),
    ],
)
async def test_non_text_output_from_the_api(
    start_simulator: StartSimulator, replicate_key: str, model: str, chunks: list[Any], named: str
) -> None:
    running: RunningSimulator = await start_simulator(latency=0.3, tokens=3)
    async with patchwire.Router() as router:
        call = asyncio.ensure_future(
            router.acompletion(
                f"replicate/{model}", [{"role": "user", "content": "Hi"}], api_base=running.url
            )
        )
        await wait_for(lambda: bool(running.sim.predictions))
        (prediction,) = running.sim.predictions.values()
        # The model answers with something that is not text.
        prediction.chunks = chunks
        with pytest.raises(patchwire.ProviderError) as caught:
            await call
    assert named in str(caught.value)
    assert prediction.id in str(caught.value)


def test_prompt_estimate_counts_every_text_input() -> None:
    messages = {"messages": [{"role": "user", "content": "x" * 400}], "system_prompt": "y" * 40}
    response = chat_response({"id": "p", "output": ["ok"]}, LABEL, messages)
    assert response.usage is not None
    assert response.usage.prompt_tokens == (441 + 3) // 4
