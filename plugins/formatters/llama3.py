"""Meta Llama 3 instruct formats: Llama 3 (``llama3``) and Llama 3.1 / 3.3 and 3.2 (``llama3.1``,
``llama3.2``), each byte for byte what Meta's chat template for those models renders, except that the
prompt does not start with ``<|begin_of_text|>``.

Llama 3: each message is ``<|start_header_id|>{role}<|end_header_id|>\\n\\n{text}<|eot_id|>`` with its
text stripped of surrounding whitespace, then an open assistant header.

Llama 3.1 and later open with a system block the template always writes, system message or not::

    <|start_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023\\n
    Today Date: 26 Jul 2024\\n\\n{system}<|eot_id|>

(3.2 writes today's date where 3.1 and 3.3 write 26 Jul 2024); a tool message is an ``ipython`` turn
holding its text as a JSON string, and an assistant tool call is ``{"name": ..., "parameters": ...}``.

There is no ``<|begin_of_text|>``: the model's tokenizer adds it (LiteLLM's documented prompt has none),
and a second one would be a literal token in the prompt.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import patchwire
from patchwire import BadRequestError, Message
from patchwire.plugins.formatters.base import Formatter, text_of

NAME = "llama3"
ASSISTANT = "<|start_header_id|>assistant<|end_header_id|>\n\n"


def _header(role: str) -> str:
    return f"<|start_header_id|>{role}<|end_header_id|>\n\n"


def render(messages: Sequence[Message]) -> str:
    # A loop, not a comprehension, and the header written out: each call this saves is on every call.
    parts = []
    for i, m in enumerate(messages):
        text = m.content if m.content.__class__ is str else text_of(m, i, NAME)
        parts.append(f"<|start_header_id|>{m.role}<|end_header_id|>\n\n{text.strip()}<|eot_id|>")
    parts.append(ASSISTANT)
    return "".join(parts)


def _tool_call(message: Message, index: int, name: str) -> str:
    calls = message.tool_calls or ()
    if len(calls) != 1:
        raise BadRequestError(
            f"messages[{index}] has {len(calls)} tool calls; {name} models take one tool call per message",
            param=f"messages[{index}].tool_calls",
        )
    function: Mapping[str, Any] = calls[0].get("function") or {}
    call = json.dumps(function.get("arguments"), ensure_ascii=False)
    return f'{ASSISTANT}{{"name": "{function.get("name")}", "parameters": {call}}}<|eot_id|>'


def llama31_renderer(name: str, today: Callable[[], str]) -> Callable[[Sequence[Message]], str]:
    def render31(messages: Sequence[Message]) -> str:
        rest = list(enumerate(messages))
        system = ""
        if rest and rest[0][1].role == "system":
            system = text_of(rest[0][1], 0, name).strip()
            rest = rest[1:]
        parts = [
            f"{_header('system')}Cutting Knowledge Date: December 2023\nToday Date: {today()}\n\n"
            f"{system}<|eot_id|>"
        ]
        for i, message in rest:
            if message.tool_calls is not None:
                parts.append(_tool_call(message, i, name))
            elif message.role in ("tool", "ipython"):
                text = json.dumps(text_of(message, i, name), ensure_ascii=False)
                parts.append(f"{_header('ipython')}{text}<|eot_id|>")
            else:
                parts.append(f"{_header(message.role)}{text_of(message, i, name).strip()}<|eot_id|>")
        parts.append(ASSISTANT)
        return "".join(parts)

    return render31


def _today() -> str:
    return datetime.now().strftime("%d %b %Y")


FORMATTER = Formatter(
    name=NAME,
    models=("meta/meta-llama-3-*-instruct", "*llama-3-*instruct*", "*llama3-*instruct*"),
    render=render,
)
LLAMA31 = Formatter(
    name="llama3.1",
    models=(
        "meta/meta-llama-3.1-*-instruct",
        "*llama-3.1-*instruct*",
        "*llama3.1-*instruct*",
        "*llama-3.3-*instruct*",
        "*llama3.3-*instruct*",
    ),
    render=llama31_renderer("llama3.1", lambda: "26 Jul 2024"),
)
LLAMA32 = Formatter(
    name="llama3.2",
    models=(
        "*llama-3.2-1b-instruct*",
        "*llama-3.2-3b-instruct*",
        "*llama3.2-1b*instruct*",
        "*llama3.2-3b*instruct*",
    ),
    render=llama31_renderer("llama3.2", _today),
)


@patchwire.hookimpl
def patchwire_formatters() -> list[Formatter]:
    return [FORMATTER, LLAMA31, LLAMA32]
