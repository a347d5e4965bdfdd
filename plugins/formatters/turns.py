"""Conversations as turns, for the ``[INST]`` formats (Llama 2, Mistral): an instruction and its answer.

The official templates take a leading system message, then strictly alternating user and assistant
messages, and refuse anything else. patchwire takes any conversation: leading system messages become
the system prompt; a system or tool message later on, and consecutive user messages, join the
instruction they belong to (paragraphs separated by a blank line); an assistant message with no
instruction before it gets an empty one. A conversation the templates accept becomes exactly the turns
they render: each instruction a single message's text, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs


@attrs.define
class Turn:
    instruction: list[str] = attrs.field(factory=list)
    answer: str | None = None

    def text(self) -> str:
        """The instruction: one message's text as it is, several joined (each stripped) by blank lines."""
        if len(self.instruction) == 1:
            return self.instruction[0]
        return "\n\n".join(part.strip() for part in self.instruction)


def split_turns(pairs: Sequence[tuple[str, str]]) -> tuple[str | None, list[Turn]]:
    """The system prompt (None without a leading system message) and the conversation's turns."""
    system: list[str] = []
    i = 0
    while i < len(pairs) and pairs[i][0] == "system":
        system.append(pairs[i][1])
        i += 1
    turns: list[Turn] = []
    for role, text in pairs[i:]:
        if not turns or turns[-1].answer is not None:
            turns.append(Turn())
        if role == "assistant":
            turns[-1].answer = text
        else:
            turns[-1].instruction.append(text)
    if not turns:
        turns.append(Turn())
    if not system:
        return None, turns
    return (system[0] if len(system) == 1 else "\n\n".join(s.strip() for s in system)), turns
