"""The built-in parameter mappers, per model family, with the schemas those models publish."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import patchwire
from patchwire import BadRequestError, InputSchema, InputSpec, MapCall, Message, ModelRef, PromptFormatter
from patchwire.plugins.formatters import default, llama2, llama3, mistral
from patchwire.plugins.mappers import openai as openai_mapper
from patchwire.providers.replicate.refs import parse_ref
from patchwire.providers.replicate.schema import input_schema_from_openapi
from patchwire.providers.replicate.simulator import catalog as sim_catalog


def schema_of(preset: str) -> InputSchema:
    props = sim_catalog.PRESETS[preset]()
    schema = input_schema_from_openapi(sim_catalog.openapi_schema(props, ["prompt"]))
    assert schema is not None
    return schema


LLAMA3 = schema_of("llama3")
LLAMA2 = schema_of("llama2")
MISTRAL = schema_of("mistral")
T5 = schema_of("t5")
VICUNA = schema_of("vicuna")
MAPPERS = sorted(openai_mapper.patchwire_param_mappers(), key=lambda m: m.order)


def run(
    model: str,
    schema: InputSchema | None,
    formatter: PromptFormatter | None = llama3.FORMATTER,
    drop_params: bool = False,
    **params: Any,
) -> dict[str, Any]:
    """The inputs the router would send: mappers in order, then what is left passed through."""
    call = MapCall(
        ref=parse_ref(model),
        schema=schema,
        params=params,
        inputs={"prompt": "P"},
        drop_params=drop_params,
        formatter=formatter,
    )
    for mapper in MAPPERS:
        mapper.map(call)
    return {**call.inputs, **call.params}


def test_the_documented_order() -> None:
    assert [(m.name, m.order) for m in MAPPERS] == [
        ("openai", 100),
        ("reasoning", 150),
        ("token_aliases", 200),
        ("prompt_template", 300),
        ("schema_check", 1000),
    ]


def test_llama3_official() -> None:
    inputs = run(
        "meta/meta-llama-3-8b-instruct",
        LLAMA3,
        max_tokens=20,
        temperature=0.5,
        top_p=0.9,
        seed=7,
        presence_penalty=1.0,
        stop=["<|eot_id|>", "\n\nUser"],
        top_k=20,
        min_tokens=2,
    )
    assert inputs == {
        "prompt": "P",
        "prompt_template": "{prompt}",
        "max_tokens": 20,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 7,
        "presence_penalty": 1.0,
        "stop_sequences": "<|eot_id|>,\n\nUser",
        "top_k": 20,
        "min_tokens": 2,
    }


def test_llama3_deprecated_alias_arrives_under_the_current_name() -> None:
    assert run("meta/meta-llama-3-8b-instruct", LLAMA3, max_new_tokens=9, min_new_tokens=1) == {
        "prompt": "P",
        "prompt_template": "{prompt}",
        "max_tokens": 9,
        "min_tokens": 1,
    }


def test_two_names_for_one_length_must_agree() -> None:
    with pytest.raises(BadRequestError, match="pass one of them"):
        run("meta/meta-llama-3-8b-instruct", LLAMA3, max_tokens=20, max_new_tokens=30)
    with pytest.raises(BadRequestError, match="disagree"):
        run("meta/meta-llama-3-8b-instruct", LLAMA3, max_tokens=20, max_completion_tokens=30)
    assert run("meta/meta-llama-3-8b-instruct", LLAMA3, max_completion_tokens=30)["max_tokens"] == 30


def test_llama2_70b_chat_with_litellms_example_parameters() -> None:
    model = "meta/llama-2-70b-chat:2796ee9483c3fd7aa2e171d38f4ca12251a30609463dcfd4cd76703f22e96cdf"
    inputs = run(
        model, LLAMA2, llama2.LLAMA2, max_tokens=20, temperature=0.5, seed=-1, min_tokens=2, top_k=20
    )
    assert inputs == {
        "prompt": "P",
        "max_new_tokens": 20,
        "temperature": 0.5,
        "seed": -1,
        "min_new_tokens": 2,
        "top_k": 20,
    }  # no prompt_template: this version has none


def test_mistral_instruct() -> None:
    inputs = run(
        "mistralai/mistral-7b-instruct-v0.2", MISTRAL, mistral.FORMATTER, max_tokens=64, frequency_penalty=0.5
    )
    assert inputs == {
        "prompt": "P",
        "prompt_template": "{prompt}",
        "max_new_tokens": 64,
        "frequency_penalty": 0.5,
    }


@pytest.mark.parametrize(
    ("model", "schema"), [("daanelson/flan-t5-large", T5), ("replicate/vicuna-13b", VICUNA)]
)
def test_flan_and_vicuna_take_max_length(model: str, schema: InputSchema) -> None:
    assert run(model, schema, default.FORMATTER, max_tokens=50, temperature=0.3) == {
        "prompt": "P",
        "max_length": 50,
        "temperature": 0.3,
    }


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("meta/meta-llama-3-8b-instruct", {"max_tokens": 5, "min_tokens": 2, "prompt_template": "{prompt}"}),
        (
            "llama-2-70b-chat:2796ee9483c3fd7aa2e171d38f4ca12251a30609463dcfd4cd76703f22e96cdf",
            {"max_new_tokens": 5, "min_new_tokens": 2},
        ),
        ("mistralai/mixtral-8x7b-instruct-v0.1",
         {"max_new_tokens": 5, "min_new_tokens": 2, "prompt_template": "{prompt}"}),
        ("vicuna-13b:6282abe6a492de4145d7bb601023762212f9ddbbe78278bd6771c8b3b2f2a13b",
         {"max_length": 5, "min_tokens": 2}),
        ("custom-llm-version-id", {"max_new_tokens": 5, "min_tokens": 2}),
    ],
)  # fmt: skip
def test_without_a_schema_names_come_from_the_model_name(model: str, expected: dict[str, Any]) -> None:
    assert run(model, None, max_tokens=5, min_tokens=2) == {"prompt": "P", **expected}


def test_stop_is_a_comma_separated_string() -> None:
    assert run("x/y", LLAMA3, stop="END")["stop_sequences"] == "END"
    assert run("x/y", LLAMA3, stop=["a", "b"])["stop_sequences"] == "a,b"
    assert "stop_sequences" not in run("x/y", LLAMA3, stop=[])
    with pytest.raises(BadRequestError, match="contains a comma"):
        run("x/y", LLAMA3, stop=["a,b"])


def test_an_input_the_model_lacks_names_what_it_accepts() -> None:
    with pytest.raises(BadRequestError) as info:
        run("daanelson/flan-t5-large", T5, default.FORMATTER, stop=["x"])
    message = str(info.value)
    assert "has no input 'stop'" in message and "prompt, max_length, temperature" in message
    assert "drop_params=True" in message and info.value.param == "stop"
    with pytest.raises(BadRequestError, match="has no input 'frequency_penalty'"):
        run("meta/meta-llama-3-8b-instruct", LLAMA3, frequency_penalty=0.1)
    with pytest.raises(BadRequestError, match="has no input 'typo_k'"):
        run("meta/meta-llama-3-8b-instruct", LLAMA3, typo_k=3)


def test_drop_params_drops_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="patchwire"):
        inputs = run("daanelson/flan-t5-large", T5, default.FORMATTER, True, stop="x", typo_k=1, max_tokens=9)
    assert inputs == {"prompt": "P", "max_length": 9}
    assert sum("dropped" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"temperature": 0}, r"temperature=0 is out of range for .*: it must be >= 0.01 and <= 5"),
        ({"top_p": 1.5}, r"top_p=1.5 is out of range"),
        ({"max_tokens": 100, "min_tokens": -5}, r"min_new_tokens=-5 is out of range.*>= -1"),
        ({"top_k": "20"}, r"top_k must be an integer"),
        ({"seed": 1.5}, r"seed must be an integer"),
        ({"debug": "yes"}, r"debug must be true or false"),
        ({"top_k": True}, r"top_k must be an integer"),
    ],
)
def test_values_outside_the_schema_raise_before_the_call(params: dict[str, Any], match: str) -> None:
    with pytest.raises(BadRequestError, match=match):
        run("meta/llama-2-70b-chat", LLAMA2, llama2.LLAMA2, **params)


def test_enum_and_required_inputs() -> None:
    schema = InputSchema(
        inputs={
            "prompt": InputSpec("prompt", "string"),
            "mode": InputSpec("mode", "string", enum=("fast", "slow")),
            "voice": InputSpec("voice", "string"),
        },
        required=("prompt", "voice"),
    )
    with pytest.raises(BadRequestError, match=r"mode='medium' is not allowed .* use one of 'fast', 'slow'"):
        run("a/b", schema, voice="x", mode="medium")
    with pytest.raises(BadRequestError, match="requires the input"):
        run("a/b", schema, mode="fast")
    assert run("a/b", schema, voice="x", mode="fast") == {"prompt": "P", "voice": "x", "mode": "fast"}


def test_a_model_without_a_prompt_input_is_refused_even_with_drop_params() -> None:
    schema = InputSchema(inputs={"text": InputSpec("text", "string")})
    with pytest.raises(BadRequestError, match="has no input 'prompt'"):
        run("a/b", schema, drop_params=True)


def test_prompt_template_only_for_complete_prompts() -> None:
    # The default format leaves the model's own template in charge.
    assert "prompt_template" not in run("meta/meta-llama-3-8b-instruct", LLAMA3, default.FORMATTER)
    # A caller's own template wins.
    assert run("meta/meta-llama-3-8b-instruct", LLAMA3, prompt_template="[{prompt}]")["prompt_template"] == (
        "[{prompt}]"
    )
    # No formatter (a provider that takes no prompt): nothing to protect.
    assert "prompt_template" not in run("meta/meta-llama-3-8b-instruct", LLAMA3, None)
    # A model without the input never gets it.
    assert "prompt_template" not in run("meta/llama-2-70b-chat", LLAMA2)


def test_the_system_prompt_is_not_sent_twice() -> None:
    """With prompt_template "{prompt}" the model's template, which would add a system header with its
    own ``system_prompt``, is gone: rendering it as the model does yields our prompt, once."""
    prompt = llama3.FORMATTER.render([Message("system", "Be a good human!"), Message("user", "Hi")])
    call = MapCall(ref=parse_ref("meta/meta-llama-3-8b-instruct"), schema=LLAMA3, params={},
                   inputs={"prompt": prompt}, formatter=llama3.FORMATTER)  # fmt: skip
    for mapper in MAPPERS:
        mapper.map(call)
    system_prompt = call.inputs.get("system_prompt", LLAMA3.inputs["system_prompt"].default)
    seen_by_model = call.inputs["prompt_template"].format(prompt=prompt, system_prompt=system_prompt)
    assert seen_by_model == prompt
    assert seen_by_model.count("<|start_header_id|>system<|end_header_id|>") == 1
    assert "You are a helpful assistant" not in seen_by_model
    # Without the mapper, the model's default template would have added a second system turn.
    doubled = LLAMA3.inputs["prompt_template"].default.format(prompt=prompt, system_prompt=system_prompt)
    assert doubled.count("<|start_header_id|>system<|end_header_id|>") == 2


def test_model_ref_of_a_deployment_has_no_name_rule_surprises() -> None:
    ref = ModelRef(provider="replicate", raw="deployments/ishaan-jaff/ishaan-mistral", owner="ishaan-jaff",
                   name="ishaan-mistral", deployment=True)  # fmt: skip
    # Its name says "mistral": without a schema it gets the mistral family's names.
    call = MapCall(ref=ref, schema=None, params={"max_tokens": 3}, inputs={"prompt": "P"})
    for mapper in MAPPERS:
        mapper.map(call)
    assert call.inputs == {"prompt": "P", "max_new_tokens": 3}


async def test_explicit_length_name_passes_through_for_a_model_no_rule_knows(
    start_simulator: Any, replicate_key: str
) -> None:
    # A bare version id has no schema and no name rule: the caller's max_length is kept, not guessed.
    running = await start_simulator(latency=0.0, tokens=4)
    running.sim.add_model("acme", "t5ish", schema_inputs="llama2", versions=("custom-llm-version-id",))
    router = patchwire.Router()
    await router.acompletion(
        "replicate/custom-llm-version-id",
        [{"role": "user", "content": "hi"}],
        api_base=running.url,
        max_length=7,
    )
    (prediction,) = running.sim.predictions.values()
    assert prediction.input.get("max_length") == 7 and "max_new_tokens" not in prediction.input
    await router.aclose()
