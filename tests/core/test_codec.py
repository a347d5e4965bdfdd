"""The OpenAI wire shape: dict -> types -> JSON -> dict is lossless, and item access matches attributes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchwire import BadRequestError, ChatChunk, ChatResponse
from patchwire.codec import (
    chunk_json,
    dumps,
    structure_chunk,
    structure_message,
    structure_response,
    unstructure,
)

text = st.text(max_size=40)
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=26)
finish = st.sampled_from(["stop", "length", None])
ints = st.integers(min_value=0, max_value=2**31)

text_part = st.fixed_dictionaries({"type": st.just("text"), "text": text})
content = st.one_of(text, st.lists(text_part, min_size=1, max_size=3))
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": content},
    optional={"name": ids, "tool_call_id": ids},
)
response_message = st.fixed_dictionaries({"role": st.just("assistant"), "content": text})
usage = st.builds(
    lambda p, c: {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}, ints, ints
)
chat_completion = st.fixed_dictionaries(
    {
        "id": ids,
        "object": st.just("chat.completion"),
        "created": ints,
        "model": text,
        "choices": st.lists(
            st.builds(
                lambda i, m, f: {"index": i, "message": m, "finish_reason": f, "logprobs": None},
                ints,
                response_message,
                finish,
            ),
            min_size=1,
            max_size=3,
        ),
        "usage": usage,
        "system_fingerprint": st.one_of(st.none(), ids),
    }
)
delta = st.fixed_dictionaries({}, optional={"role": st.just("assistant"), "content": text})
chat_chunk = st.fixed_dictionaries(
    {
        "id": ids,
        "object": st.just("chat.completion.chunk"),
        "created": ints,
        "model": text,
        "choices": st.lists(
            st.builds(
                lambda i, d, f: {"index": i, "delta": d, "finish_reason": f, "logprobs": None},
                ints,
                delta,
                finish,
            ),
            min_size=1,
            max_size=2,
        ),
        "system_fingerprint": st.none(),
    },
    optional={"usage": usage},
)


@settings(max_examples=200)
@given(chat_completion)
def test_chat_completion_round_trip_is_lossless(data: dict[str, Any]) -> None:
    response = structure_response(data)
    assert orjson.loads(dumps(response)) == data
    assert structure_response(dumps(response)) == response


@settings(max_examples=200)
@given(chat_chunk)
def test_chunk_round_trip_is_lossless_and_the_fast_path_agrees(data: dict[str, Any]) -> None:
    chunk = structure_chunk(data)
    assert orjson.loads(dumps(chunk)) == data
    assert orjson.loads(chunk_json(chunk)) == data


@settings(max_examples=200)
@given(message)
def test_message_round_trip_is_lossless(data: dict[str, Any]) -> None:
    assert unstructure(structure_message(data)) == data


def test_item_access_reads_the_same_values_as_attributes() -> None:
    response = structure_response(
        {
            "id": "p1",
            "object": "chat.completion",
            "created": 1,
            "model": "replicate/meta/meta-llama-3-8b-instruct",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )
    assert response["choices"][0]["message"]["content"] == response.choices[0].message.content == "Hi"
    assert response["usage"]["total_tokens"] == 2
    assert response.get("nope") is None and "choices" in response
    with pytest.raises(KeyError):
        response["nope"]
    assert response.to_dict()["choices"][0]["message"] == {"role": "assistant", "content": "Hi"}
    assert isinstance(response, ChatResponse)


def test_json_has_exactly_the_openai_keys() -> None:
    chunk = structure_chunk(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": " hi"}, "finish_reason": None}],
        }
    )
    assert isinstance(chunk, ChatChunk)
    body = orjson.loads(chunk.to_json())
    assert set(body) == {"id", "object", "created", "model", "choices", "system_fingerprint"}
    assert body["choices"][0] == {
        "index": 0,
        "delta": {"content": " hi"},
        "finish_reason": None,
        "logprobs": None,
    }


def test_image_parts_are_kept_for_formatters_to_judge() -> None:
    msg = structure_message(
        {
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}],
        }
    )
    assert msg.text == "a"
    assert not isinstance(msg.content, str) and msg.content[1].type == "image_url"


def test_malformed_response_is_a_typed_error() -> None:
    with pytest.raises(BadRequestError, match=r"not a chat\.completion"):
        structure_response({"id": "x"})
