"""Mistral instruct, v1 tokenizer: the chat template Mistral publishes for Mistral-7B-Instruct v0.1 and
v0.2 and Mixtral-8x7B-Instruct-v0.1, byte for byte::

    <s> [INST] {system}\\n\\n{user} [/INST] {assistant}</s> [INST] {user} [/INST]

Every ``[INST]`` follows a space (after ``<s>`` and after ``</s>`` too), the system message is put
before the first instruction, and no text is stripped. Conversations the template refuses (roles that
do not alternate, a system message after the first) are taken as turns (``turns.py``). A conversation
ending with an assistant message is left open, so the model continues that answer (the template would
close it with ``</s>`` and ask nothing): what ``continue_final_message`` gives in ``transformers``
(which cuts the answer's trailing whitespace).

(Mistral's earlier templates for the same models had no space after ``<s>`` and no system message;
Mistral-7B-Instruct-v0.3 and later models use other tokenizers and are not claimed here.)
"""

from __future__ import annotations

from collections.abc import Sequence

import patchwire
from patchwire import Message
from patchwire.plugins.formatters.base import Formatter, texts
from patchwire.plugins.formatters.turns import split_turns

NAME = "mistral"


def render(messages: Sequence[Message]) -> str:
    system, turns = split_turns(texts(messages, NAME))
    out = ["<s>"]
    for n, turn in enumerate(turns):
        instruction = turn.text()
        if n == 0 and system is not None:
            instruction = f"{system}\n\n{instruction}"
        out.append(f" [INST] {instruction} [/INST]")
        if turn.answer is not None:
            last = n == len(turns) - 1
            # A final answer is continued: without trailing whitespace, as transformers cuts it.
            out.append(f" {turn.answer.rstrip()}" if last else f" {turn.answer}</s>")
    return "".join(out)


FORMATTER = Formatter(
    name=NAME,
    models=(
        "mistralai/mistral-7b-instruct-v0.1",
        "mistralai/mistral-7b-instruct-v0.2",
        "mistralai/mixtral-8x7b-instruct-v0.1",
        "*/mistral-7b-instruct-v0.[12]*",
        "*/mixtral-8x7b-instruct-v0.1*",
    ),
    render=render,
)


@patchwire.hookimpl
def patchwire_formatters() -> list[Formatter]:
    return [FORMATTER]
