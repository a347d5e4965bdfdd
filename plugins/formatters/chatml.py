"""ChatML: ``<|im_start|>{role}\\n{text}<|im_end|>\\n`` per message, then ``<|im_start|>assistant\\n``.

Used by OpenHermes, Dolphin, Nous Hermes 2, Qwen and Yi chat models. Texts are kept exactly as given
(ChatML templates do not strip them).
"""

from __future__ import annotations

from collections.abc import Sequence

import patchwire
from patchwire import Message
from patchwire.plugins.formatters.base import Formatter, texts

NAME = "chatml"


def render(messages: Sequence[Message]) -> str:
    parts = [f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in texts(messages, NAME)]
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


FORMATTER = Formatter(
    name=NAME,
    models=(
        "*chatml*",
        "*openhermes*",
        "*/dolphin-*",
        "*/nous-hermes-2-*",
        "*/qwen*-chat*",
        "*/qwen*-instruct*",
        "*/yi-*-chat*",
    ),
    renderer=render,
)


@patchwire.hookimpl
def patchwire_formatters() -> list[Formatter]:
    return [FORMATTER]
