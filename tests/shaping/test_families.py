"""One model of every input family in the published schemas, end to end against the simulator (which
serves them with their real schemas and validates inputs as Replicate does): a system message, a
multi-turn conversation, an image by URL, token limits and reasoning_effort, plain and streamed; the
assertions are on the inputs that reached the simulator."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from support import RunningSimulator

import patchwire

IMAGE = "https://example.com/cat.png"
TURNS: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
]
TEXT = [*TURNS, {"role": "user", "content": "What is this?"}]


def with_images(*urls: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "What is this?"}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return [*TURNS, {"role": "user", "content": parts}]


TRANSCRIPT = "User: Hi\n\nAssistant: Hello!\n\nUser: What is this?\n\nAssistant:"
NATIVE = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "What is this?"},
]
LLAMA3_PROMPT = (
    "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is this?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)

# (family, model, messages, call parameters, the inputs that must reach Replicate)
CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, Any], dict[str, Any]]] = [
    (
        "A (system_prompt, own template)",
        "meta/llama-4-maverick-instruct",
        TEXT,
        {"max_tokens": 100},
        {"system_prompt": "Be brief.", "prompt": TRANSCRIPT, "max_tokens": 100},
    ),
    (
        "A (chat format)",
        "meta/meta-llama-3-8b-instruct",
        TEXT,
        {"max_tokens": 100},
        {"prompt": LLAMA3_PROMPT, "prompt_template": "{prompt}", "max_tokens": 100},
    ),
    (
        "A' (prompt only)",
        "deepseek-ai/deepseek-r1",
        TEXT,
        {"max_completion_tokens": 100},
        {"prompt": f"Be brief.\n\n{TRANSCRIPT}", "max_tokens": 100},
    ),
    (
        "B + E (Claude, extended thinking)",
        "anthropic/claude-4-sonnet",
        with_images(IMAGE),
        {"max_tokens": 4096, "reasoning_effort": "medium"},
        {
            "system_prompt": "Be brief.",
            "prompt": TRANSCRIPT,
            "image": IMAGE,
            "max_tokens": 4096,
            "extended_thinking": True,
            "thinking_budget_tokens": 2048,
        },
    ),
    (
        "B' (Gemma 3, string output)",
        "google-deepmind/gemma-3-27b-it",
        with_images(IMAGE),
        {"max_tokens": 100},
        {"system_prompt": "Be brief.", "prompt": TRANSCRIPT, "image": IMAGE, "max_new_tokens": 100},
    ),
    (
        "C + E (GPT-5, messages)",
        "openai/gpt-5",
        with_images(IMAGE),
        {"max_tokens": 100, "reasoning_effort": "xhigh"},
        {
            "messages": NATIVE,
            "image_input": [IMAGE],
            "max_completion_tokens": 100,
            "reasoning_effort": "high",
        },
    ),
    (
        "C' (Responses-style)",
        "openai/gpt-5-structured",
        with_images(IMAGE),
        {"max_tokens": 100, "reasoning_effort": "low"},
        {
            "instructions": "Be brief.",
            "prompt": TRANSCRIPT,
            "image_input": [IMAGE],
            "max_output_tokens": 100,
            "reasoning_effort": "low",
        },
    ),
    (
        "D (vision, image required)",
        "yorickvp/llava-13b",
        with_images(IMAGE),
        {"max_tokens": 100},
        {"prompt": f"Be brief.\n\n{TRANSCRIPT}", "image": IMAGE, "max_tokens": 100},
    ),
    (
        "F + E (Gemini 2.5, thinking budget)",
        "google/gemini-2.5-flash",
        with_images(IMAGE, IMAGE),
        {"max_tokens": 100, "reasoning_effort": "high"},
        {
            "system_instruction": "Be brief.",
            "prompt": TRANSCRIPT,
            "images": [IMAGE, IMAGE],
            "max_output_tokens": 100,
            "thinking_budget": 4096,
        },
    ),
    (
        "F + E (Gemini 3, thinking level)",
        "google/gemini-3-flash",
        TEXT,
        {"max_tokens": 100, "reasoning_effort": "minimal"},
        {
            "system_instruction": "Be brief.",
            "prompt": TRANSCRIPT,
            "max_output_tokens": 100,
            "thinking_level": "low",
        },
    ),
    (
        "G (Granite, messages)",
        "ibm-granite/granite-3.3-8b-instruct",
        TEXT,
        {"max_tokens": 100},
        {"messages": NATIVE, "max_tokens": 100},
    ),
]


async def run(
    simulator: RunningSimulator, model: str, messages: Any, stream: bool, **params: Any
) -> tuple[str, str]:
    """The answer's content and reasoning, read as the caller reads them."""
    async with patchwire.Router() as router:
        result = await router.acompletion(
            f"replicate/{model}", messages, api_base=simulator.url, stream=stream, **params
        )
        if not stream:
            message = result.choices[0].message
            return message.content or "", message.reasoning_content or ""
        content = reasoning = ""
        async for chunk in result:
            for choice in chunk.choices:
                content += choice.delta.content or ""
                reasoning += choice.delta.reasoning_content or ""
        return content, reasoning


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize(
    ("family", "model", "messages", "params", "expected"), CASES, ids=[case[0] for case in CASES]
)
async def test_every_family(
    simulator: RunningSimulator,
    replicate_key: str,
    family: str,
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    expected: dict[str, Any],
    stream: bool,
) -> None:
    content, _ = await run(simulator, model, messages, stream, **params)
    assert content
    (prediction,) = simulator.sim.predictions.values()
    assert prediction.model == model
    assert dict(prediction.input) == expected
    assert not prediction.unknown_inputs


async def test_single_string_output_streams_as_one_chunk(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    plain, _ = await run(simulator, "google-deepmind/gemma-3-27b-it", TEXT, False)
    streamed, _ = await run(simulator, "google-deepmind/gemma-3-27b-it", TEXT, True)
    assert plain == streamed and plain


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_inline_reasoning_is_reasoning_content(
    simulator: RunningSimulator, replicate_key: str, stream: bool
) -> None:
    content, reasoning = await run(simulator, "deepseek-ai/deepseek-r1", TEXT, stream)
    assert reasoning and content
    assert "<think>" not in content and "</think>" not in content
    assert "<think>" not in reasoning
    (prediction,) = simulator.sim.predictions.values()
    whole = "".join(prediction.chunks)
    assert whole.lstrip().startswith("<think>")
    assert whole.endswith(content)


# -- images by data: URL -----------------------------------------------------------------------------


def png(size: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


async def test_large_data_url_is_uploaded_once_and_sent_as_its_link(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    image = png(300 * 1024)
    messages = with_images(data_url(image))
    await run(simulator, "openai/gpt-5", messages, False)
    await run(simulator, "openai/gpt-5", messages, True)  # the next turn: not uploaded again
    (uploaded,) = simulator.sim.files.values()
    assert uploaded.content == image
    assert uploaded.content_type == "image/png"
    link = f"{simulator.url}/v1/files/{uploaded.id}"
    assert [p.input["image_input"] for p in simulator.sim.predictions.values()] == [[link], [link]]


async def test_large_data_url_to_a_single_image_input(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    image = png(400 * 1024)
    await run(simulator, "anthropic/claude-4-sonnet", with_images(data_url(image)), True)
    (uploaded,) = simulator.sim.files.values()
    assert uploaded.content == image
    (prediction,) = simulator.sim.predictions.values()
    assert prediction.input["image"] == f"{simulator.url}/v1/files/{uploaded.id}"


async def test_small_data_url_is_sent_inline(simulator: RunningSimulator, replicate_key: str) -> None:
    url = data_url(png(2048))
    await run(simulator, "anthropic/claude-4-sonnet", with_images(url), False)
    assert not simulator.sim.files
    (prediction,) = simulator.sim.predictions.values()
    assert prediction.input["image"] == url


async def test_a_template_chosen_for_a_messages_model_renders_the_prompt(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    async with patchwire.Router(plugins=patchwire.Plugins()) as router:
        router.register_prompt_template(
            model="openai/gpt-4.1",
            roles={"system": {"pre_message": "[S]", "post_message": "\n"}, "user": {"pre_message": "[U]"}},
        )
        await router.acompletion("replicate/openai/gpt-4.1", TEXT[:2], api_base=simulator.url)
    (prediction,) = simulator.sim.predictions.values()
    # The caller chose how the conversation is written: it goes to prompt, not to messages.
    assert dict(prediction.input) == {"prompt": "[S]Be brief.\n[U]Hi"}
