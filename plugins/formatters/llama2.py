"""Llama 2 chat: Meta's chat template (``meta-llama/Llama-2-*-chat-hf``), byte for byte::

    <s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]

As the template does, each instruction (with the system block before the first) and each answer is
stripped of surrounding whitespace, and the system text itself is kept as written. Conversations the
template refuses (roles that do not alternate) are taken as turns (``turns.py``). A conversation
ending with an assistant message is left open, so the model continues that answer (the template would
close it with ``</s>`` and ask nothing): what ``continue_final_message`` gives in ``transformers``.
"""

from __future__ import annotations

from collections.abc import Sequence

import patchwire
from patchwire import Message
from patchwire.plugins.formatters.base import Formatter, texts
from patchwire.plugins.formatters.turns import split_turns

NAME = "llama2"


def render(messages: Sequence[Message]) -> str:
    system, turns = split_turns(texts(messages, NAME))
    out: list[str] = []
    for n, turn in enumerate(turns):
        instruction = turn.text()
        if n == 0 and system is not None:
            instruction = f"<<SYS>>\n{system}\n<</SYS>>\n\n{instruction}"
        out.append(f"<s>[INST] {instruction.strip()} [/INST]")
        if turn.answer is not None:
            last = n == len(turns) - 1
            out.append(f" {turn.answer.strip()}" if last else f" {turn.answer.strip()} </s>")
    return "".join(out)


FORMATTER = Formatter(
    name=NAME,
    models=(
        "meta/llama-2-*-chat",
        "*/llama-2-*-chat",
        "*/llama-2-*-chat-*",
        "llama-2-*-chat:*",
        "*/codellama-*-instruct",
    ),
    render=render,
)
#: The name this formatter had when one module held both ``[INST]`` formats.
LLAMA2 = FORMATTER


@patchwire.hookimpl
def patchwire_formatters() -> list[Formatter]:
    return [FORMATTER]
