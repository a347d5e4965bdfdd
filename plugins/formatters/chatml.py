"""ChatML and the Qwen chat templates, each byte for byte what its official template renders.

``chatml`` (OpenHermes, Dolphin, Nous Hermes 2, Yi chat): ``<|im_start|>{role}\\n{text}<|im_end|>\\n`` per
message, then ``<|im_start|>assistant\\n``; texts kept exactly as given (ChatML templates strip nothing).

The Qwen templates are ChatML with a default system message when the conversation does not start with
one, as Qwen publishes them:

- ``qwen2`` (Qwen2 instruct): "You are a helpful assistant.";
- ``qwen2.5`` (Qwen2.5 and Qwen2.5-Coder instruct): "You are Qwen, created by Alibaba Cloud. You are a
  helpful assistant."; tool results are wrapped in ``<tool_response>`` inside a user turn (consecutive
  ones share it) and assistant tool calls are written as ``<tool_call>`` JSON;
- ``qwen1.5`` (Qwen1.5 chat): "You are a helpful assistant" (no period); a conversation ending with an
  assistant message gets no new assistant header.

A role the Qwen2.5 template does not know (it renders nothing for one) is written as a ChatML turn:
patchwire never drops a message silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import patchwire
from patchwire import Message
from patchwire.plugins.formatters.base import Formatter, text_of, texts

NAME = "chatml"
QWEN2_SYSTEM = "You are a helpful assistant."
QWEN25_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
QWEN15_SYSTEM = "You are a helpful assistant"
OPEN_ASSISTANT = "<|im_start|>assistant\n"


def _turn(role: str, text: str) -> str:
    return f"<|im_start|>{role}\n{text}<|im_end|>\n"


def render(messages: Sequence[Message]) -> str:
    parts = [_turn(role, text) for role, text in texts(messages, NAME)]
    parts.append(OPEN_ASSISTANT)
    return "".join(parts)


def render_qwen2(messages: Sequence[Message]) -> str:
    pairs = texts(messages, "qwen2")
    default = [_turn("system", QWEN2_SYSTEM)] if pairs and pairs[0][0] != "system" else []
    return "".join([*default, *(_turn(role, text) for role, text in pairs), OPEN_ASSISTANT])


def render_qwen15(messages: Sequence[Message]) -> str:
    pairs = texts(messages, "qwen1.5")
    default = [_turn("system", QWEN15_SYSTEM)] if pairs and pairs[0][0] != "system" else []
    ending = [] if pairs and pairs[-1][0] == "assistant" else [OPEN_ASSISTANT]
    return "".join([*default, *(_turn(role, text) for role, text in pairs), *ending])


def _tool_calls(calls: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for call in calls:
        function = call.get("function", call)
        arguments = json.dumps(function.get("arguments"), ensure_ascii=False)
        out.append(
            f'\n<tool_call>\n{{"name": "{function.get("name")}", "arguments": {arguments}}}\n</tool_call>'
        )
    return "".join(out)


def render_qwen25(messages: Sequence[Message]) -> str:
    name = "qwen2.5"
    if messages and messages[0].role == "system":
        parts = [_turn("system", text_of(messages[0], 0, name))]
    else:
        parts = [_turn("system", QWEN25_SYSTEM)]
    for i, message in enumerate(messages):
        role = message.role
        if i == 0 and role == "system":
            continue
        text = text_of(message, i, name)
        if role == "assistant" and message.tool_calls:
            parts.append(f"<|im_start|>assistant{chr(10) + text if text else ''}")
            parts.append(f"{_tool_calls(message.tool_calls)}<|im_end|>\n")
        elif role == "tool":
            if i == 0 or messages[i - 1].role != "tool":
                parts.append("<|im_start|>user")
            parts.append(f"\n<tool_response>\n{text}\n</tool_response>")
            if i == len(messages) - 1 or messages[i + 1].role != "tool":
                parts.append("<|im_end|>\n")
        else:
            parts.append(_turn(role, text))
    parts.append(OPEN_ASSISTANT)
    return "".join(parts)


FORMATTER = Formatter(
    name=NAME,
    models=("*chatml*", "*openhermes*", "*/dolphin-*", "*/nous-hermes-2-*", "*/yi-*-chat*"),
    render=render,
)
QWEN2 = Formatter(name="qwen2", models=("*/qwen2-*-instruct*",), render=render_qwen2)
QWEN25 = Formatter(
    name="qwen2.5",
    models=("*/qwen2.5-[0-9]*-instruct*", "*/qwen2.5-coder-*-instruct*"),
    render=render_qwen25,
)
QWEN15 = Formatter(name="qwen1.5", models=("*/qwen1.5-*-chat*",), render=render_qwen15)


@patchwire.hookimpl
def patchwire_formatters() -> list[Formatter]:
    return [FORMATTER, QWEN2, QWEN25, QWEN15]
