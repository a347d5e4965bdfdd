"""Every built-in prompt format, byte for byte, on the conversations users send."""

from __future__ import annotations

import pytest

from patchwire import BadRequestError, ContentPart, Message
from patchwire.plugins.formatters import chatml, custom, default, llama2, llama3, mistral
from patchwire.plugins.formatters.base import Formatter
from patchwire.router import make_template

EARTH = [Message("system", "Be a good human!"), Message("user", "What do you know about earth?")]
MULTI = [
    Message("system", "Be brief."),
    Message("user", "Hi"),
    Message("assistant", "Hello!"),
    Message("user", "Capital of France?"),
]
HELLO = [Message("user", "Hello, how are you?")]


def test_llama3_matches_litellms_documented_replicate_call() -> None:
    assert llama3.FORMATTER.render(EARTH) == (
        "<|start_header_id|>system<|end_header_id|>\n\nBe a good human!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat do you know about earth?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_llama3_multi_turn_and_stripping() -> None:
    messages = [*MULTI[:3], Message("user", "  Capital of France?\n")]
    assert llama3.FORMATTER.render(messages) == (
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nCapital of France?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_llama2_with_system_prompt_folded_into_the_first_turn() -> None:
    assert llama2.LLAMA2.render(MULTI) == (
        "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Capital of France? [/INST]"
    )


def test_llama2_without_system_prompt() -> None:
    assert llama2.LLAMA2.render(HELLO) == "<s>[INST] Hello, how are you? [/INST]"
    assert llama2.LLAMA2.render(MULTI[1:]) == (
        "<s>[INST] Hi [/INST] Hello! </s><s>[INST] Capital of France? [/INST]"
    )


def test_llama2_irregular_conversations() -> None:
    # Consecutive user messages share one instruction; a late system message joins the instruction.
    messages = [
        Message("user", "One."),
        Message("user", "Two."),
        Message("assistant", "Ok."),
        Message("system", "Now be formal."),
        Message("user", "Three."),
    ]
    assert llama2.LLAMA2.render(messages) == (
        "<s>[INST] One.\n\nTwo. [/INST] Ok. </s><s>[INST] Now be formal.\n\nThree. [/INST]"
    )
    # Only a system message: it still gets its <<SYS>> block.
    assert llama2.LLAMA2.render([Message("system", "S")]) == "<s>[INST] <<SYS>>\nS\n<</SYS>> [/INST]"
    # A trailing assistant message is continued, not closed.
    assert llama2.LLAMA2.render([*HELLO, Message("assistant", "I am")]) == (
        "<s>[INST] Hello, how are you? [/INST] I am"
    )


def test_mistral_instruct() -> None:
    # Mistral's v1 template: a space before every [INST], after <s> and after </s> alike.
    assert mistral.FORMATTER.render(MULTI) == (
        "<s> [INST] Be brief.\n\nHi [/INST] Hello!</s> [INST] Capital of France? [/INST]"
    )
    assert mistral.FORMATTER.render(HELLO) == "<s> [INST] Hello, how are you? [/INST]"


def test_chatml() -> None:
    assert chatml.FORMATTER.render(MULTI) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nCapital of France?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_default_sends_a_lone_user_message_unchanged() -> None:
    assert default.FORMATTER.render(HELLO) == "Hello, how are you?"


def test_default_transcript() -> None:
    assert default.FORMATTER.render(MULTI) == (
        "Be brief.\n\nUser: Hi\n\nAssistant: Hello!\n\nUser: Capital of France?\n\nAssistant:"
    )
    assert default.FORMATTER.render([*HELLO, Message("assistant", "Fine")]) == (
        "User: Hello, how are you?\n\nAssistant: Fine"
    )


# The two custom templates of LiteLLM's Replicate page (register_prompt_template and the proxy config).
LITELLM_SDK_TEMPLATE = make_template(
    initial_prompt_value="You are a good assistant",
    roles={
        "system": {"pre_message": "[INST] <<SYS>>\n", "post_message": "\n<</SYS>>\n [/INST]\n"},
        "user": {"pre_message": "[INST] ", "post_message": " [/INST]"},
        "assistant": {"pre_message": "\n", "post_message": "\n"},
    },
    final_prompt_value="Now answer as best you can:",
)
LITELLM_CONFIG_TEMPLATE = make_template(
    initial_prompt_value="\n",
    roles={
        "system": {"pre_message": "<|im_start|>system\n", "post_message": "<|im_end|>"},
        "assistant": {"pre_message": "<|im_start|>assistant\n", "post_message": "<|im_end|>"},
        "user": {"pre_message": "<|im_start|>user\n", "post_message": "<|im_end|>"},
    },
    final_prompt_value="\n",
    bos_token="<s>",
    eos_token="</s>",
)


def test_custom_template_from_litellms_sdk_example() -> None:
    formatter = custom.patchwire_template_formatter(name="custom:x", template=LITELLM_SDK_TEMPLATE)
    assert formatter.render(EARTH) == (
        "You are a good assistant"
        "[INST] <<SYS>>\nBe a good human!\n<</SYS>>\n [/INST]\n"
        "[INST] What do you know about earth? [/INST]"
        "Now answer as best you can:"
    )


def test_custom_template_bos_and_eos_around_turns() -> None:
    formatter = custom.patchwire_template_formatter(name="custom:x", template=LITELLM_CONFIG_TEMPLATE)
    # bos at the start and before each system/user message that follows an assistant one; eos after
    # each assistant message.
    assert formatter.render(MULTI) == (
        "<s>\n"
        "<|im_start|>system\nBe brief.<|im_end|>"
        "<|im_start|>user\nHi<|im_end|>"
        "<|im_start|>assistant\nHello!<|im_end|></s>"
        "<s><|im_start|>user\nCapital of France?<|im_end|>"
        "\n"
    )


def test_custom_template_role_without_entry_gets_bare_text() -> None:
    template = make_template(roles={"user": {"pre_message": "Q: "}}, bos_token="<s>", eos_token="</s>")
    formatter = custom.patchwire_template_formatter(name="custom:x", template=template)
    assert formatter.render([Message("system", "S"), Message("user", "U"), Message("assistant", "A")]) == (
        "<s>SQ: UA</s>"
    )


TEXT_PARTS = Message("user", (ContentPart("text", "What is "), ContentPart("text", "this?")))
IMAGE = Message(
    "user", (ContentPart("text", "What is this?"), ContentPart("image_url", image_url={"url": "x"}))
)
CUSTOM = custom.patchwire_template_formatter(name="custom:x", template=LITELLM_CONFIG_TEMPLATE)
ALL = [llama3.FORMATTER, llama2.LLAMA2, mistral.FORMATTER, chatml.FORMATTER, default.FORMATTER, CUSTOM]


@pytest.mark.parametrize("formatter", ALL, ids=lambda f: f.name)
def test_text_parts_are_joined(formatter: Formatter) -> None:
    assert formatter.render([TEXT_PARTS]) == formatter.render([Message("user", "What is this?")])


@pytest.mark.parametrize("formatter", ALL, ids=lambda f: f.name)
def test_image_parts_are_refused(formatter: Formatter) -> None:
    with pytest.raises(BadRequestError, match=r"messages\[1\] has a 'image_url' content part") as info:
        formatter.render([Message("system", "S"), IMAGE])
    assert info.value.status_code == 400
