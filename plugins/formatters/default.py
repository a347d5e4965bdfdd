"""The fallback prompt format, for models no formatter claims.

Unclaimed models on Replicate are mostly of two kinds: base or seq2seq models (flan-t5, vicuna-13b,
fine-tunes) that complete text, and instruct models that wrap ``prompt`` in their own
``prompt_template``. The default serves both:

- one user message and nothing else is sent as its text, unchanged: a base model completes it, a
  seq2seq model reads it as the instruction, a model with its own template wraps it exactly as its
  authors intended;
- anything longer becomes a plain transcript, which base and instruct models both follow::

      {system text}

      User: {text}

      Assistant: {text}

      User: {text}

      Assistant:

  (a conversation ending with an assistant message is left open, to be continued).

This formatter sets ``uses_model_template``, so a model's own ``prompt_template`` is kept (the chat
formats replace it with ``"{prompt}"``). LiteLLM's fallback joins the contents with spaces, which loses
who said what.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import patchwire
from patchwire import Message, ModelRef, PromptFormatter
from patchwire.plugins.formatters.base import Formatter, texts

NAME = "default"
LABELS = {"user": "User", "assistant": "Assistant", "tool": "Tool"}

log = logging.getLogger("patchwire")


def render(messages: Sequence[Message]) -> str:
    pairs = texts(messages, NAME)
    if len(pairs) == 1 and pairs[0][0] == "user":
        return pairs[0][1]
    blocks: list[str] = []
    for role, text in pairs:
        label = LABELS.get(role)
        # A system message is a paragraph of its own, as base models see instructions in documents.
        blocks.append(text.strip() if label is None else f"{label}: {text.strip()}")
    if not pairs or pairs[-1][0] != "assistant":
        blocks.append("Assistant:")
    return "\n\n".join(blocks)


FORMATTER = Formatter(name=NAME, models=(), render=render, uses_model_template=True)


@patchwire.hookimpl(trylast=True)
def patchwire_choose_formatter(
    ref: ModelRef, requested: str | None, formatters: Sequence[PromptFormatter]
) -> Formatter | None:
    if requested is not None:
        return None  # a forced name is the core's to resolve (and to refuse)
    log.debug(
        "patchwire: no prompt formatter claims %s; using the %r format (pass format= to choose one)",
        ref,
        NAME,
    )
    return FORMATTER


@patchwire.hookimpl
def patchwire_formatters() -> list[Formatter]:
    return [FORMATTER]
