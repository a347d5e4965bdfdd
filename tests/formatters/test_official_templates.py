# ruff: noqa: E501  (the official templates are quoted verbatim, long lines and all)
"""Every built-in chat format renders what the official chat template of the models it claims renders.

Each official template below is the ``chat_template`` of the models' ``tokenizer_config.json`` as their
authors publish it on Hugging Face; it is rendered here the way ``transformers``' ``apply_chat_template``
renders it (a sandboxed Jinja environment with ``trim_blocks`` and ``lstrip_blocks``,
``add_generation_prompt=True``), independently of patchwire's own Jinja support, and compared byte for
byte with the built-in format over many conversations (hypothesis).

Where patchwire deliberately differs, the test says how (the README says why):
- no ``<|begin_of_text|>`` at the start of the Llama 3 formats (the model's tokenizer adds it);
- a conversation ending with an assistant message is continued, as ``continue_final_message=True``
  renders it, in the formats whose template would otherwise close it and ask nothing (Llama 2, Mistral);
- conversations a template refuses (``raise_exception``) still render (checked in other tests).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.sandbox import ImmutableSandboxedEnvironment

from patchwire import Message
from patchwire.plugins.formatters import chat_template, chatml, llama2, llama3, mistral
from patchwire.plugins.formatters.base import Formatter
from patchwire.router import make_template

# -- the official templates ------------------------------------------------------------------------

# meta-llama/Meta-Llama-3-8B-Instruct (and -70B-Instruct)
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant"
    "<|end_header_id|>\\n\\n' }}{% endif %}"
)

# meta-llama/Llama-3.1-8B-Instruct (Llama-3.3-70B-Instruct publishes the same)
LLAMA31 = r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

# meta-llama/Llama-3.2-1B-Instruct and -3B-Instruct: Llama 3.1's, with today's date
LLAMA32 = LLAMA31.replace(
    '{%- if not date_string is defined %}\n    {%- set date_string = "26 Jul 2024" %}\n{%- endif %}',
    "{%- if not date_string is defined %}\n    {%- if strftime_now is defined %}\n        {%- set date_string "
    '= strftime_now("%d %b %Y") %}\n    {%- else %}\n        {%- set date_string = "26 Jul 2024" %}\n'
    "    {%- endif %}\n{%- endif %}",
).replace("{%- if builtin_tools is defined or tools is not none %}", "{%- if tools is not none %}")

# meta-llama/Llama-2-7b-chat-hf (and the 13b and 70b chat models)
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}"
    "{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) "
    "%}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)

# mistralai/Mistral-7B-Instruct-v0.1, -v0.2 and mistralai/Mixtral-8x7B-Instruct-v0.1 (tokenizer v1)
MISTRAL = r"""{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
"""

# ChatML: teknium/OpenHermes-2.5-Mistral-7B, cognitivecomputations/dolphin-* (transformers' ChatML)
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}"
)

# Qwen/Qwen2-7B-Instruct
QWEN2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Qwen/Qwen1.5-72B-Chat (and the other Qwen1.5 chat models)
QWEN15 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\\nYou are a helpful assistant<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\\n' + message['content']}}{% if (loop.last and add_generation_prompt) or not "
    "loop.last %}{{ '<|im_end|>' + '\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt and "
    "messages[-1]['role'] != 'assistant' %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Qwen/Qwen2.5-7B-Instruct (the other sizes and Qwen2.5-Coder instruct publish the same)
QWEN25 = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""


# -- rendering them as transformers does -----------------------------------------------------------


class Refused(Exception):
    pass


def _raise(message: str) -> None:
    raise Refused(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators)


ENV = ImmutableSandboxedEnvironment(
    trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
)
ENV.filters["tojson"] = _tojson
ENV.globals["raise_exception"] = _raise
ENV.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)


@functools.cache
def compiled(template: str) -> jinja2.Template:
    return ENV.from_string(template)


def official(
    template: str, messages: list[Message], *, bos: str = "", eos: str = "", continue_final: bool = False
) -> str:
    """``apply_chat_template(messages, tokenize=False, add_generation_prompt=True)``, or with
    ``continue_final_message=True`` (then without the generation prompt, cut after the last message)."""
    objects: list[dict[str, Any]] = []
    for m in messages:
        obj: dict[str, Any] = {"role": m.role, "content": m.text}
        if m.tool_calls is not None:
            obj["tool_calls"] = [dict(c) for c in m.tool_calls]
        objects.append(obj)
    rendered = compiled(template).render(
        messages=objects, bos_token=bos, eos_token=eos, add_generation_prompt=not continue_final
    )
    if continue_final:  # transformers' own cut
        final = messages[-1].text
        at = rendered.rindex(final.strip())
        if rendered[at : at + len(final.lstrip())] == final:
            rendered = rendered[: at + len(final.lstrip())]
        else:
            rendered = rendered[: at + len(final.strip())]
    return rendered


# -- conversations ----------------------------------------------------------------------------------

TOKENS = [
    "<|eot_id|>",
    "<|im_start|>",
    "<|im_end|>",
    "[INST]",
    "[/INST]",
    "<s>",
    "</s>",
    "<<SYS>>",
    "{{ x }}",
]
text = st.lists(
    st.one_of(
        st.text(max_size=10),
        st.sampled_from(TOKENS),
        st.sampled_from(["", " ", "  ", "\n", "\n\n", "\t", "é🙂", '"quoted"', "\\n"]),
    ),
    max_size=4,
).map("".join)


def messages_of(roles: list[str]) -> st.SearchStrategy[list[Message]]:
    return st.lists(st.builds(Message, role=st.sampled_from(roles), content=text), min_size=1, max_size=8)


@st.composite
def alternating(draw: st.DrawFn, *, ends_with_user: bool) -> list[Message]:
    """What the [INST] templates accept: an optional system message, then user/assistant in turn."""
    messages = [Message("system", draw(text))] if draw(st.booleans()) else []
    turns = draw(st.integers(min_value=1, max_value=4))
    for n in range(turns):
        messages.append(Message("user", draw(text)))
        if n < turns - 1 or not ends_with_user:
            messages.append(Message("assistant", draw(text)))
    if not ends_with_user:  # a final answer transformers can find again to continue it
        final = draw(st.text(alphabet="abc xyz\n", min_size=1).map(str.rstrip).filter(bool))
        messages[-1] = Message("assistant", final)
    return messages


# -- the formats against the templates -------------------------------------------------------------


@given(messages_of(["system", "user", "assistant", "tool"]))
def test_llama3_is_metas_template_without_begin_of_text(messages: list[Message]) -> None:
    expected = official(LLAMA3, messages, bos="<|begin_of_text|>")
    assert expected.startswith("<|begin_of_text|>")
    assert llama3.FORMATTER.render(messages) == expected.removeprefix("<|begin_of_text|>")


@given(messages_of(["system", "user", "assistant", "tool"]))
def test_llama31_is_metas_template_without_begin_of_text(messages: list[Message]) -> None:
    expected = official(LLAMA31, messages, bos="<|begin_of_text|>")
    assert llama3.LLAMA31.render(messages) == expected.removeprefix("<|begin_of_text|>")


@given(messages_of(["system", "user", "assistant", "tool"]))
def test_llama32_is_metas_template_without_begin_of_text(messages: list[Message]) -> None:
    expected = official(LLAMA32, messages, bos="<|begin_of_text|>")
    assert f"Today Date: {datetime.now():%d %b %Y}\n\n" in expected
    assert llama3.LLAMA32.render(messages) == expected.removeprefix("<|begin_of_text|>")


def test_llama31_tool_call_and_result() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    messages = [
        Message("user", "Weather in Oslo?"),
        Message("assistant", None, tool_calls=(call,)),
        Message("tool", '{"temp": 3}', tool_call_id="c1"),
    ]
    expected = official(LLAMA31, messages, bos="<|begin_of_text|>").removeprefix("<|begin_of_text|>")
    assert llama3.LLAMA31.render(messages) == expected
    assert '{"name": "weather", "parameters": "{\\"city\\": \\"Oslo\\"}"}<|eot_id|>' in expected


@settings(max_examples=300)
@given(alternating(ends_with_user=True))
def test_llama2_is_metas_template(messages: list[Message]) -> None:
    assert llama2.FORMATTER.render(messages) == official(LLAMA2, messages, bos="<s>", eos="</s>")


@given(alternating(ends_with_user=False))
def test_llama2_continues_a_final_answer_as_continue_final_message_does(messages: list[Message]) -> None:
    expected = official(LLAMA2, messages, bos="<s>", eos="</s>", continue_final=True)
    assert llama2.FORMATTER.render(messages) == expected


@settings(max_examples=300)
@given(alternating(ends_with_user=True))
def test_mistral_is_mistrals_v1_template(messages: list[Message]) -> None:
    assert mistral.FORMATTER.render(messages) == official(MISTRAL, messages, bos="<s>", eos="</s>")


@given(alternating(ends_with_user=False))
def test_mistral_continues_a_final_answer_as_continue_final_message_does(messages: list[Message]) -> None:
    expected = official(MISTRAL, messages, bos="<s>", eos="</s>", continue_final=True)
    assert mistral.FORMATTER.render(messages) == expected


def test_mistral_spacing_around_turns() -> None:
    messages = [Message("user", "Hi"), Message("assistant", "Hello!"), Message("user", "Bye")]
    assert mistral.FORMATTER.render(messages) == "<s> [INST] Hi [/INST] Hello!</s> [INST] Bye [/INST]"
    assert mistral.FORMATTER.render(messages) == official(MISTRAL, messages, bos="<s>", eos="</s>")


FORMATS: list[tuple[Formatter, str, list[str]]] = [
    (chatml.FORMATTER, CHATML, ["system", "user", "assistant", "tool"]),
    (chatml.QWEN2, QWEN2, ["system", "user", "assistant", "tool"]),
    (chatml.QWEN15, QWEN15, ["system", "user", "assistant", "tool"]),
    (chatml.QWEN25, QWEN25, ["system", "user", "assistant", "tool"]),
]


@pytest.mark.parametrize(("formatter", "template", "roles"), FORMATS, ids=lambda v: getattr(v, "name", ""))
@given(data=st.data())
def test_chatml_and_qwen_are_their_templates(
    formatter: Formatter, template: str, roles: list[str], data: st.DataObject
) -> None:
    messages = data.draw(messages_of(roles))
    assert formatter.render(messages) == official(template, messages)


def test_qwen_default_system_messages() -> None:
    hello = [Message("user", "Hello")]
    assert chatml.QWEN2.render(hello) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert chatml.QWEN25.render(hello).startswith(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    )
    assert chatml.QWEN15.render(hello).startswith("<|im_start|>system\nYou are a helpful assistant<|im_end|>")
    # A system message of one's own replaces the default.
    assert chatml.QWEN25.render([Message("system", "Be brief."), *hello]).startswith(
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello"
    )


def test_qwen25_tool_calls_and_results() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    messages = [
        Message("user", "Weather in Oslo and Bergen?"),
        Message("assistant", "Looking.", tool_calls=(call, call)),
        Message("tool", "3 C", tool_call_id="c1"),
        Message("tool", "5 C", tool_call_id="c1"),
    ]
    assert chatml.QWEN25.render(messages) == official(QWEN25, messages)
    assert "<|im_start|>user\n<tool_response>\n3 C\n</tool_response>\n<tool_response>\n5 C" in (
        chatml.QWEN25.render(messages)
    )


# -- patchwire's own Jinja support renders them the same -------------------------------------------

ANY_ROLES = messages_of(["system", "user", "assistant", "tool"])
TEMPLATES = [
    ("llama3", LLAMA3, ANY_ROLES),
    ("llama3.1", LLAMA31, ANY_ROLES),
    ("llama3.2", LLAMA32, ANY_ROLES),
    ("llama2", LLAMA2, alternating(ends_with_user=True)),
    ("mistral", MISTRAL, alternating(ends_with_user=True)),
    ("chatml", CHATML, ANY_ROLES),
    ("qwen2", QWEN2, ANY_ROLES),
    ("qwen1.5", QWEN15, ANY_ROLES),
    ("qwen2.5", QWEN25, ANY_ROLES),
]


@functools.cache
def registered(name: str, template: str) -> chat_template.ChatTemplateFormatter:
    formatter = chat_template.patchwire_template_formatter(
        name=name, template=make_template(None, bos_token="<s>", eos_token="</s>", chat_template=template)
    )
    assert formatter is not None
    return formatter


@pytest.mark.parametrize(("name", "template", "conversations"), TEMPLATES, ids=[t[0] for t in TEMPLATES])
@given(data=st.data())
def test_register_prompt_template_renders_official_templates_as_transformers_does(
    name: str, template: str, conversations: st.SearchStrategy[list[Message]], data: st.DataObject
) -> None:
    formatter = registered(name, template)
    messages = data.draw(conversations)
    assert formatter.render(messages) == official(template, messages, bos="<s>", eos="</s>")
