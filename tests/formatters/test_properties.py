"""Invariants of every prompt format over random conversations (hypothesis).

Conversations mix every role in any order, empty strings, unicode, newlines and text that looks like
the formats' own special tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from patchwire import Message
from patchwire.plugins.formatters import chatml, custom, default, llama2, llama3, mistral, turns
from patchwire.router import make_template

TOKENS = ["<|eot_id|>", "<|start_header_id|>", "[INST]", "[/INST]", "<s>", "</s>", "<<SYS>>",
          "<|im_start|>", "<|im_end|>", "User:", "Assistant:", "\n\n"]  # fmt: skip
ROLES = ["system", "user", "assistant", "tool"]

texts = st.lists(
    st.one_of(st.text(max_size=12), st.sampled_from(TOKENS), st.sampled_from(["", " ", "\n", "é🙂"])),
    max_size=4,
).map("".join)
plain_texts = texts.filter(lambda t: not any(tok in t for tok in TOKENS) and "<" not in t)
message = st.builds(Message, role=st.sampled_from(ROLES), content=texts)
plain_message = st.builds(Message, role=st.sampled_from(ROLES), content=plain_texts)
conversations = st.lists(message, min_size=1, max_size=8)
plain_conversations = st.lists(plain_message, min_size=1, max_size=8)


def in_order(prompt: str, pieces: Sequence[str]) -> bool:
    """Every piece occurs in the prompt, each after the previous one."""
    at = 0
    for piece in pieces:
        found = prompt.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


@given(conversations)
def test_llama3_keeps_every_text_in_order_and_asks_the_assistant(messages: list[Message]) -> None:
    prompt = llama3.FORMATTER.render(messages)
    assert prompt.startswith(f"<|start_header_id|>{messages[0].role}<|end_header_id|>\n\n")
    assert prompt.endswith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    assert in_order(prompt, [m.text.strip() for m in messages])
    assert "<|begin_of_text|>" not in prompt or any("<|begin_of_text|>" in m.text for m in messages)


@given(plain_conversations)
def test_llama3_parses_back_to_the_conversation(messages: list[Message]) -> None:
    prompt = llama3.FORMATTER.render(messages)
    turns = re.findall(r"<\|start_header_id\|>(\w+)<\|end_header_id\|>\n\n(.*?)<\|eot_id\|>", prompt, re.S)
    assert turns == [(m.role, m.text.strip()) for m in messages]


@given(plain_conversations)
def test_chatml_parses_back_exactly(messages: list[Message]) -> None:
    prompt = chatml.FORMATTER.render(messages)
    assert prompt.endswith("<|im_start|>assistant\n")
    turns = re.findall(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>\n", prompt, re.S)
    assert turns == [(m.role, m.text) for m in messages]


@given(conversations)
def test_llama2_shape(messages: list[Message]) -> None:
    prompt = llama2.LLAMA2.render(messages)
    assert prompt.startswith("<s>[INST] ")
    assert in_order(prompt, [m.text.strip() for m in messages if m.role != "system"])
    if messages[-1].role != "assistant":
        assert prompt.endswith(" [/INST]")


@given(plain_conversations)
def test_llama2_closes_every_answer_but_a_trailing_one(messages: list[Message]) -> None:
    prompt = llama2.LLAMA2.render(messages)
    system, split = turns.split_turns([(m.role, m.text) for m in messages])
    answers = sum(turn.answer is not None for turn in split)
    trailing = messages[-1].role == "assistant"
    assert prompt.count("</s>") == answers - trailing
    assert prompt.count("[INST]") == len(split)
    assert prompt.count("<<SYS>>") == (system is not None)


@given(plain_conversations)
def test_mistral_shape(messages: list[Message]) -> None:
    prompt = mistral.FORMATTER.render(messages)
    assert prompt.startswith("<s> [INST] ") and prompt.count("<s>") == 1
    assert in_order(prompt, [m.text.strip() for m in messages])


TEMPLATE = make_template(
    roles={
        "system": {"pre_message": "«S:", "post_message": ":S»"},
        "user": {"pre_message": "«U:", "post_message": ":U»"},
        "assistant": {"pre_message": "«A:", "post_message": ":A»"},
    },
    initial_prompt_value="«init»",
    final_prompt_value="«final»",
    bos_token="«bos»",
    eos_token="«eos»",
)
CUSTOM = custom.patchwire_template_formatter(name="custom:t", template=TEMPLATE)


@given(plain_conversations)
def test_custom_template_bos_and_eos(messages: list[Message]) -> None:
    prompt = CUSTOM.render(messages)
    assert prompt.startswith("«bos»«init»") and prompt.endswith("«final»")
    assert prompt.count("«eos»") == sum(m.role == "assistant" for m in messages)
    reopened = sum(
        1
        for i, m in enumerate(messages)
        if m.role in ("system", "user") and _last_turn_opener_or_assistant(messages[:i]) == "assistant"
    )
    assert prompt.count("«bos»") == 1 + reopened
    assert in_order(prompt, [m.text for m in messages])


def _last_turn_opener_or_assistant(before: Sequence[Message]) -> str | None:
    for m in reversed(before):
        if m.role in ("system", "user", "assistant"):
            return m.role
    return None


@given(conversations)
def test_default_keeps_every_text_and_a_lone_question_unchanged(messages: list[Message]) -> None:
    prompt = default.FORMATTER.render(messages)
    assert in_order(prompt, [m.text.strip() for m in messages])
    assert default.FORMATTER.render([Message("user", messages[0].text)]) == messages[0].text


@given(conversations)
def test_token_looking_text_is_kept_verbatim(messages: list[Message]) -> None:
    for formatter in (llama3.FORMATTER, chatml.FORMATTER, llama2.LLAMA2, CUSTOM, default.FORMATTER):
        prompt = formatter.render(messages)
        for m in messages:
            for token in TOKENS:
                if token in m.text.strip():
                    assert token in prompt
