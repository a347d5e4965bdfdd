"""A model's own Hugging Face chat template (tokenizer_config) and supports_system_prompt, end to end:
what reaches the (simulated) Replicate API, and hostile templates refused before any network call."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest
from support import EARTH, ZEPHYR, RunningSimulator

import patchwire
from patchwire import BadRequestError, MissingDependencyError
from patchwire.plugins.formatters import chat_template

A16Z = "a16z-infra/llama-2-13b-chat:2a7f981751ec7fdf87b5b91ad4db53683a98082e9ff7bfd12c8cd5ea85980a52"
LLAMA3 = "meta/meta-llama-3-8b-instruct"
ZEPHYR_EARTH = (
    "<|system|>\nBe a good human!</s>\n<|user|>\nWhat do you know about earth?</s>\n<|assistant|>\n"
)
# Gemma's template refuses a system message with raise_exception.
NO_SYSTEM = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
    "supported') }}{% endif %}{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\n' "
    "+ message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{'<start_of_turn>model\n'}}{% endif %}"
)


def inputs_of(simulator: RunningSimulator) -> list[dict[str, Any]]:
    return [dict(p.input) for p in simulator.sim.predictions.values()]


async def test_registered_chat_template_renders_the_prompt(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    async with patchwire.Router(plugins=patchwire.Plugins()) as router:
        router.register_prompt_template(
            f"replicate/{A16Z}", tokenizer_config={"chat_template": ZEPHYR, "eos_token": "</s>"}
        )
        await router.acompletion(f"replicate/{A16Z}", EARTH, api_base=simulator.url)
    assert inputs_of(simulator) == [{"prompt": ZEPHYR_EARTH}]


async def test_module_level_register_prompt_template_takes_tokenizer_config(
    simulator: RunningSimulator, replicate_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A default router of the test's own: registrations must not outlive the test.
    monkeypatch.setattr(patchwire.api, "_default", patchwire.Router(plugins=patchwire.Plugins()))
    patchwire.register_prompt_template(
        model=f"replicate/{LLAMA3}",
        tokenizer_config={
            "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n"
            "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}",
            # Hugging Face serializes special tokens as objects too.
            "bos_token": {"content": "<BOS>", "lstrip": False},
        },
    )
    try:
        await patchwire.acompletion(f"replicate/{LLAMA3}", EARTH, api_base=simulator.url)
    finally:
        await patchwire.get_router().aclose()
    assert inputs_of(simulator) == [
        {
            "prompt": "<BOS>[system] Be a good human!\n[user] What do you know about earth?\n[assistant]",
            "prompt_template": "{prompt}",  # the prompt is complete: the model's template must not wrap it
        }
    ]


def test_named_templates_use_the_default_one() -> None:
    router = patchwire.Router(plugins=patchwire.Plugins())
    router.register_prompt_template(
        "replicate/acme/chat",
        tokenizer_config={
            "chat_template": [
                {"name": "tool_use", "template": "TOOLS"},
                {"name": "default", "template": "{{ messages[0].content }}!"},
            ]
        },
    )
    formatter = patchwire.pipeline.build_pipeline(router.plugins, "replicate/acme/chat").formatter
    assert formatter is not None and formatter.render([patchwire.Message("user", "hi")]) == "hi!"


@pytest.mark.parametrize(
    ("config", "param"),
    [
        ("not a mapping", "tokenizer_config"),
        ({}, "tokenizer_config.chat_template"),
        ({"chat_template": ""}, "tokenizer_config.chat_template"),
        ({"chat_template": 7}, "tokenizer_config.chat_template"),
        ({"chat_template": "x", "eos_token": 3}, "tokenizer_config.eos_token"),
        ({"chat_template": "{% for m in messages %}"}, "chat_template"),  # not valid Jinja
    ],
)
def test_bad_tokenizer_config_is_refused_at_registration(config: Any, param: str) -> None:
    router = patchwire.Router(plugins=patchwire.Plugins())
    with pytest.raises(BadRequestError) as info:
        router.register_prompt_template("replicate/acme/chat", tokenizer_config=config)
    assert info.value.param == param


def test_syntax_error_names_the_line() -> None:
    router = patchwire.Router(plugins=patchwire.Plugins())
    with pytest.raises(BadRequestError, match=r"not valid Jinja: .* \(line 2\)"):
        router.register_prompt_template(
            "replicate/acme/chat", tokenizer_config={"chat_template": "ok\n{{ messages[0 }}"}
        )


def test_roles_and_tokenizer_config_together_are_refused() -> None:
    router = patchwire.Router(plugins=patchwire.Plugins())
    with pytest.raises(BadRequestError, match="either tokenizer_config"):
        router.register_prompt_template(
            "replicate/acme/chat",
            roles={"user": {"pre_message": "Q"}},
            tokenizer_config={"chat_template": "x"},
        )


def test_missing_jinja2_is_a_typed_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_template, "_sandbox", None)
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 now fails, as when not installed
    monkeypatch.delitem(sys.modules, "patchwire.plugins.formatters.sandbox", raising=False)
    router = patchwire.Router(plugins=patchwire.Plugins())
    with pytest.raises(MissingDependencyError, match=r"pip install 'patchwire\[templates\]'"):
        router.register_prompt_template("replicate/acme/chat", tokenizer_config={"chat_template": "x"})


async def test_raise_exception_is_a_400_with_the_templates_message(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    async with patchwire.Router(plugins=patchwire.Plugins()) as router:
        router.register_prompt_template(f"replicate/{A16Z}", tokenizer_config={"chat_template": NO_SYSTEM})
        with pytest.raises(
            BadRequestError, match="refuses this conversation: System role not supported"
        ) as info:
            await router.acompletion(f"replicate/{A16Z}", EARTH, api_base=simulator.url)
        assert info.value.status_code == 400
        # Without the system message the same template renders.
        await router.acompletion(f"replicate/{A16Z}", EARTH[1:], api_base=simulator.url)
    assert inputs_of(simulator) == [
        {"prompt": "<start_of_turn>user\nWhat do you know about earth?<end_of_turn>\n<start_of_turn>model\n"}
    ]


# Templates that reach for Python internals: each is a 400 and nothing runs (the marker file is the
# canary a successful escape would write).
ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch {marker}') }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__['__builtins__']['__import__']('os').system('touch {marker}') }}",
    "{{ self.__init__.__globals__ }}",
    "{{ raise_exception.__globals__['sys'].modules['os'].system('touch {marker}') }}",
    "{{ messages.__class__.__base__.__subclasses__() }}",
    "{{ (messages|first).update({'role': 'x'}) }}",
    "{{ messages.append(1) }}",
    "{{ lipsum.__globals__ }}",
    "{{ strftime_now.__globals__['datetime'] }}",
    "{{ ''.format.__globals__ }}",
    "{{ '{0.__class__}'.format('') }}",
]


@pytest.mark.parametrize("template", ESCAPES)
async def test_a_template_reaching_for_python_internals_is_a_400_and_runs_nothing(
    template: str, simulator: RunningSimulator, replicate_key: str, tmp_path: Any
) -> None:
    marker = tmp_path / "escaped"
    async with patchwire.Router(plugins=patchwire.Plugins()) as router:
        router.register_prompt_template(
            f"replicate/{A16Z}", tokenizer_config={"chat_template": template.replace("{marker}", str(marker))}
        )
        with pytest.raises(BadRequestError) as info:
            await router.acompletion(f"replicate/{A16Z}", EARTH, api_base=simulator.url)
    assert info.value.status_code == 400
    assert not marker.exists()
    assert not simulator.sim.predictions  # refused before any network call


# Templates that would render gigabytes or run for ever: each ends fast, as a 400.
BOMBS = [
    "{{ 'a' * 10**10 }}",
    "{{ messages * 100000000 }}",
    "{{ 'x'.ljust(10**10) }}",
    "{{ 'x'|center(10**9) }}",
    "{{ '%9999999999s' % 'a' }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'ab'.replace('', 'x' * 10000000) }}",
    "{{ messages|tojson(indent=100000000) }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{% set a = 'x' * 10000000 %}{% set b = a ~ a ~ a ~ a %}{% set c = b ~ b %}{{ c }}",
    "{% set a = 'x' * 10000000 %}{% set x %}{% for i in range(100000) %}{{ a ~ i }}{% endfor %}{% endset %}",
    "{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}",
    "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('a') }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for x in messages recursive %}{{ loop(messages * 50) }}{% endfor %}",
    "{{ lipsum(10000000) }}",
]


@pytest.mark.parametrize("template", BOMBS)
def test_a_template_that_would_render_gigabytes_or_loop_for_ever_is_bounded(template: str) -> None:
    router = patchwire.Router(plugins=patchwire.Plugins())
    router.register_prompt_template("replicate/acme/chat", tokenizer_config={"chat_template": template})
    formatter = patchwire.pipeline.build_pipeline(router.plugins, "replicate/acme/chat").formatter
    assert formatter is not None
    started = time.monotonic()
    with pytest.raises(BadRequestError):
        formatter.render([patchwire.Message("user", "hi")])
    assert time.monotonic() - started < 10  # a bound, not a benchmark: unbounded would be hours


def test_a_long_legitimate_conversation_renders() -> None:
    router = patchwire.Router(plugins=patchwire.Plugins())
    router.register_prompt_template("replicate/acme/chat", tokenizer_config={"chat_template": ZEPHYR})
    formatter = patchwire.pipeline.build_pipeline(router.plugins, "replicate/acme/chat").formatter
    assert formatter is not None
    messages = [patchwire.Message("user" if i % 2 == 0 else "assistant", "word " * 400) for i in range(2000)]
    prompt = formatter.render(messages)
    assert len(prompt) > 4_000_000 and prompt.endswith("word \n<|assistant|>\n")


async def test_supports_system_prompt_sends_the_system_message_as_the_models_input(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    async with patchwire.Router(plugins=patchwire.Plugins()) as router:
        router.register_prompt_template(
            f"replicate/{A16Z}",
            tokenizer_config={"chat_template": NO_SYSTEM, "bos_token": "<bos>"},
            supports_system_prompt=True,
        )
        await router.acompletion(f"replicate/{A16Z}", EARTH, api_base=simulator.url)
        await router.acompletion(f"replicate/{A16Z}", EARTH[1:], api_base=simulator.url)
    with_system, without = inputs_of(simulator)
    # The template never sees the system message (it would refuse it); the model gets it as input.
    assert with_system == {
        "prompt": "<bos><start_of_turn>user\nWhat do you know about earth?<end_of_turn>\n"
        "<start_of_turn>model\n",
        "system_prompt": "Be a good human!",
    }
    assert "system_prompt" not in without  # the model's own default stays


async def test_supports_system_prompt_with_a_roles_template(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    async with patchwire.Router(plugins=patchwire.Plugins()) as router:
        router.register_prompt_template(
            f"replicate/{A16Z}",
            roles={"user": {"pre_message": "[INST] ", "post_message": " [/INST]"}},
            supports_system_prompt=True,
        )
        await router.acompletion(f"replicate/{A16Z}", EARTH, api_base=simulator.url)
    assert inputs_of(simulator) == [
        {"prompt": "[INST] What do you know about earth? [/INST]", "system_prompt": "Be a good human!"}
    ]


async def test_supports_system_prompt_as_a_call_parameter_like_litellm(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    conversation = [
        *EARTH,
        {"role": "assistant", "content": "Round."},
        {"role": "system", "content": "Be brief."},
    ]
    async with patchwire.Router(plugins=patchwire.Plugins()) as router:
        await router.acompletion(
            f"replicate/{A16Z}", conversation, api_base=simulator.url, supports_system_prompt=True
        )
        with pytest.raises(BadRequestError, match="supports_system_prompt must be true or false"):
            await router.acompletion(
                f"replicate/{A16Z}", EARTH, api_base=simulator.url, supports_system_prompt="yes"
            )
    # The first system message goes to system_prompt; a later one stays in the conversation.
    assert inputs_of(simulator) == [
        {
            "prompt": "<s>[INST] What do you know about earth? [/INST] Round. </s>"
            "<s>[INST] Be brief. [/INST]",
            "system_prompt": "Be a good human!",
        }
    ]
