"""Llama 2 chat and Mistral instruct formats: the ``[INST]`` family.

Llama 2 chat, as Meta's reference code builds it::

    <s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]

Mistral instruct has no system role; its documented format is
``<s>[INST] {user} [/INST] {assistant}</s>[INST] {user} [/INST]``, and a system message is put before
the first user message (as Mistral's own chat templates do).

Both formats have turns, not messages: a turn is an instruction and the answer to it. Leading system
messages become the system prompt; a system or tool message later on, and consecutive user messages,
join the instruction they belong to (paragraphs separated by a blank line); an assistant message with
no instruction before it gets an empty one. A conversation that ends with an assistant message is left
open, so the model continues that answer: these formats have no other way to ask for one.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

import patchwire
from patchwire import Message
from patchwire.plugins.formatters.base import Formatter, texts


@attrs.define
class Turn:
    instruction: list[str] = attrs.field(factory=list)
    answer: str | None = None


def split_turns(pairs: Sequence[tuple[str, str]]) -> tuple[str | None, list[Turn]]:
    """The system prompt (None without a leading system message) and the conversation's turns."""
    system: list[str] = []
    i = 0
    while i < len(pairs) and pairs[i][0] == "system":
        system.append(pairs[i][1].strip())
        i += 1
    turns: list[Turn] = []
    for role, text in pairs[i:]:
        if role == "assistant":
            if not turns or turns[-1].answer is not None:
                turns.append(Turn())
            turns[-1].answer = text.strip()
        else:
            if not turns or turns[-1].answer is not None:
                turns.append(Turn())
            turns[-1].instruction.append(text.strip())
    if not turns:
        turns.append(Turn())
    return ("\n\n".join(system) if system else None), turns


def render_llama2(messages: Sequence[Message]) -> str:
    system, turns = split_turns(texts(messages, "llama2"))
    out: list[str] = []
    for n, turn in enumerate(turns):
        instruction = "\n\n".join(turn.instruction)
        if n == 0 and system is not None:
            instruction = f"<<SYS>>\n{system}\n<</SYS>>\n\n{instruction}"
        out.append(f"<s>[INST] {instruction.strip()} [/INST]")
        if turn.answer is not None:
            last = n == len(turns) - 1
            out.append(f" {turn.answer}" if last else f" {turn.answer} </s>")
    return "".join(out)


def render_mistral(messages: Sequence[Message]) -> str:
    system, turns = split_turns(texts(messages, "mistral"))
    out = ["<s>"]
    for n, turn in enumerate(turns):
        paragraphs = list(turn.instruction)
        if n == 0 and system is not None:
            paragraphs.insert(0, system)
        instruction = "\n\n".join(paragraphs)
        out.append(f"[INST] {instruction.strip()} [/INST]")
        if turn.answer is not None:
            last = n == len(turns) - 1
            out.append(f" {turn.answer}" if last else f" {turn.answer}</s>")
    return "".join(out)


LLAMA2 = Formatter(
    name="llama2",
    models=(
        "meta/llama-2-*-chat",
        "*/llama-2-*-chat",
        "*/llama-2-*-chat-*",
        "llama-2-*-chat:*",
        "*/codellama-*-instruct",
    ),
    renderer=render_llama2,
)

MISTRAL = Formatter(
    name="mistral",
    models=("mistralai/*-instruct*",),
    renderer=render_mistral,
)


@patchwire.hookimpl
def patchwire_formatters() -> list[Formatter]:
    return [LLAMA2, MISTRAL]
