"""Meta Llama 3 instruct format (also Llama 3.1/3.2/3.3 text models).

Each message becomes ``<|start_header_id|>{role}<|end_header_id|>\\n\\n{text}<|eot_id|>`` and the prompt
ends with an open assistant header. Texts are stripped of surrounding whitespace as Meta's chat template
does. There is no ``<|begin_of_text|>``: the model's tokenizer adds it (the call LiteLLM's Replicate
page expects has none), and a second one would be a literal token in the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import patchwire
from patchwire import Message
from patchwire.plugins.formatters.base import Formatter, texts

NAME = "llama3"


def _header(role: str) -> str:
    return f"<|start_header_id|>{role}<|end_header_id|>\n\n"


def render(messages: Sequence[Message]) -> str:
    parts = [f"{_header(role)}{text.strip()}<|eot_id|>" for role, text in texts(messages, NAME)]
    parts.append(_header("assistant"))
    return "".join(parts)


FORMATTER = Formatter(
    name=NAME,
    models=(
        "meta/meta-llama-3-*-instruct",
        "meta/meta-llama-3.1-*-instruct",
        "*llama-3*-instruct*",
        "*llama3*-instruct*",
    ),
    renderer=render,
)


@patchwire.hookimpl
def patchwire_formatters() -> list[Formatter]:
    return [FORMATTER]
