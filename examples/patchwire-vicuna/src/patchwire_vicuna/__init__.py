"""Vicuna v1.1's prompt format as a patchwire plugin.

    A chat between a curious user and an artificial intelligence assistant. The assistant gives
    helpful, detailed, and polite answers to the user's questions. USER: Hello! ASSISTANT: Hi!</s>USER:
    How are you? ASSISTANT:

A system message replaces the opening sentence. Installing the package is all it takes: patchwire finds
the entry point ``vicuna`` in group ``patchwire`` and asks this module's hooks.
"""

from __future__ import annotations

from collections.abc import Sequence

import patchwire

PREAMBLE = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)


class VicunaFormatter:
    name = "vicuna"
    # Patterns match owner/name (and the raw reference, so "vicuna-13b:<version>" is claimed too).
    models = ("*/vicuna-*", "vicuna-*")

    def render(self, messages: Sequence[patchwire.Message]) -> str:
        # FastChat's vicuna_v1.1: turns joined by " ", an answer closed by "</s>".
        # message_texts reads each message's text and refuses image parts with a clear error.
        turns = patchwire.message_texts(messages, self.name)
        system = " ".join(text.strip() for role, text in turns if role == "system") or PREAMBLE
        out = [system]
        for role, text in turns:
            if role == "system":
                continue
            label = "ASSISTANT" if role == "assistant" else "USER"
            sep = "" if out[-1].endswith("</s>") else " "
            out.append(f"{sep}{label}: {text.strip()}")
            if role == "assistant":
                out.append("</s>")
        if not turns or turns[-1][0] != "assistant":
            sep = "" if out[-1].endswith("</s>") else " "
            out.append(f"{sep}ASSISTANT:")
        return "".join(out)


@patchwire.hookimpl
def patchwire_formatters() -> list[VicunaFormatter]:
    return [VicunaFormatter()]
