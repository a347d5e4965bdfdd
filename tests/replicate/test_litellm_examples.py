"""Every example of LiteLLM's Replicate page, end to end: the prompt and inputs that reach
the (simulated) Replicate API over real HTTP on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from support import EARTH, EARTH_LLAMA3_PROMPT, RunningSimulator

import patchwire
from patchwire.providers.replicate.simulator.catalog import synthetic_id
from patchwire.proxy.config import parse_config_text

HELLO = [{"content": "Hello, how are you?", "role": "user"}]
LLAMA2_70B = "replicate/llama-2-70b-chat:2796ee9483c3fd7aa2e171d38f4ca12251a30609463dcfd4cd76703f22e96cdf"
# Replicate runs a model by name alone only for official models; these two are not, so they are pinned
# to a version here (LiteLLM's page leaves the version out, which Replicate answers with a 404).
LLAMA2_32K = f"togethercomputer/LLaMA-2-7B-32K:{synthetic_id('togethercomputer/LLaMA-2-7B-32K')}"
MISTRAL_V01 = (
    "mistralai/Mistral-7B-Instruct-v0.1:83b6a56e7c828e667f21fd596c338fd4f0039b46bcfa18d973e8e70e455fda70"
)


def only_input(simulator: RunningSimulator) -> dict[str, Any]:
    (prediction,) = simulator.sim.predictions.values()
    assert not prediction.unknown_inputs
    return dict(prediction.input)


async def call(simulator: RunningSimulator, model: str, messages: Any, **params: Any) -> Any:
    async with patchwire.Router() as router:
        return await router.acompletion(model, messages, api_base=simulator.url, **params)


async def test_llama3_expected_replicate_call(simulator: RunningSimulator, replicate_key: str) -> None:
    response = await call(simulator, "replicate/meta/meta-llama-3-8b-instruct", EARTH)
    assert response.choices[0].message.content
    # LiteLLM's documented prompt byte for byte; the model's own template must not wrap it a second time.
    assert only_input(simulator) == {"prompt": EARTH_LLAMA3_PROMPT, "prompt_template": "{prompt}"}


async def test_llama3_hello(simulator: RunningSimulator, replicate_key: str) -> None:
    await call(simulator, "replicate/meta/meta-llama-3-8b-instruct", HELLO)
    assert only_input(simulator)["prompt"] == (
        "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


async def test_llama2_with_max_tokens_and_temperature(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    await call(simulator, LLAMA2_70B, HELLO, max_tokens=20, temperature=0.5)
    assert only_input(simulator) == {
        "prompt": "<s>[INST] Hello, how are you? [/INST]",
        "max_new_tokens": 20,
        "temperature": 0.5,
    }


async def test_replicate_specific_params_pass_through(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    await call(simulator, LLAMA2_70B, HELLO, seed=-1, min_tokens=2, top_k=20)
    assert only_input(simulator) == {
        "prompt": "<s>[INST] Hello, how are you? [/INST]",
        "seed": -1,
        "min_new_tokens": 2,  # the name this model has
        "top_k": 20,
    }


async def test_litellm_table_models(simulator: RunningSimulator, replicate_key: str) -> None:
    a16z = (
        "replicate/a16z-infra/llama-2-13b-chat:"
        + "2a7f981751ec7fdf87b5b91ad4db53683a98082e9ff7bfd12c8cd5ea85980a52"
    )
    vicuna = "replicate/vicuna-13b:6282abe6a492de4145d7bb601023762212f9ddbbe78278bd6771c8b3b2f2a13b"
    flan = (
        "replicate/daanelson/flan-t5-large:ce962b3f6792a57074a601d3979db5839697add2e4e02696b3ced4c022d4767f"
    )
    expected = {
        a16z: {"prompt": "<s>[INST] Hello, how are you? [/INST]", "max_new_tokens": 30},
        vicuna: {"prompt": "Hello, how are you?", "max_length": 30},
        flan: {"prompt": "Hello, how are you?", "max_length": 30},
    }
    async with patchwire.Router() as router:
        for model in expected:
            await router.acompletion(model, HELLO, api_base=simulator.url, max_tokens=30)
    got = {p.version: dict(p.input) for p in simulator.sim.predictions.values()}
    assert got == {model.rsplit(":", 1)[1]: inputs for model, inputs in expected.items()}


async def test_custom_prompt_template_sdk(simulator: RunningSimulator, replicate_key: str) -> None:
    async with patchwire.Router() as router:
        router.register_prompt_template(
            model="togethercomputer/LLaMA-2-7B-32K",
            initial_prompt_value="You are a good assistant",
            roles={
                "system": {"pre_message": "[INST] <<SYS>>\n", "post_message": "\n<</SYS>>\n [/INST]\n"},
                "user": {"pre_message": "[INST] ", "post_message": " [/INST]"},
                "assistant": {"pre_message": "\n", "post_message": "\n"},
            },
            final_prompt_value="Now answer as best you can:",
        )
        await router.acompletion(f"replicate/{LLAMA2_32K}", EARTH, api_base=simulator.url)
    assert only_input(simulator) == {
        "prompt": "You are a good assistant[INST] <<SYS>>\nBe a good human!\n<</SYS>>\n [/INST]\n"
        "[INST] What do you know about earth? [/INST]Now answer as best you can:",
        "prompt_template": "{prompt}",
    }


LITELLM_CONFIG = """
model_list:
  - model_name: mistral-7b # model alias
    litellm_params: # actual params for litellm.completion()
      model: "replicate/{MISTRAL_V01}"
      api_key: os.environ/REPLICATE_API_KEY
      initial_prompt_value: "\\n"
      roles: {"system":{"pre_message":"<|im_start|>system\\n", "post_message":"<|im_end|>"}, "assistant":{"pre_message":"<|im_start|>assistant\\n","post_message":"<|im_end|>"}, "user":{"pre_message":"<|im_start|>user\\n","post_message":"<|im_end|>"}}
      final_prompt_value: "\\n"
      bos_token: "<s>"
      eos_token: "</s>"
      max_tokens: 4096
  - model_name: llama-3
    litellm_params:
      model: replicate/meta/meta-llama-3-8b-instruct
      api_key: os.environ/REPLICATE_API_KEY
      max_tokens: 20
      temperature: 0.5
  - model_name: llama-3-specific
    litellm_params:
      model: replicate/meta/meta-llama-3-8b-instruct
      api_key: os.environ/REPLICATE_API_KEY
      min_tokens: 2
      top_k: 20
"""  # noqa: E501


async def test_proxy_config_examples(simulator: RunningSimulator, replicate_key: str) -> None:
    config = parse_config_text(LITELLM_CONFIG.replace("{MISTRAL_V01}", MISTRAL_V01))
    async with patchwire.Router(routes=config.routes) as router:
        await router.acompletion("mistral-7b", EARTH, api_base=simulator.url)
        await router.acompletion("llama-3", HELLO, api_base=simulator.url, temperature=0.9)
        await router.acompletion("llama-3-specific", HELLO, api_base=simulator.url)
    mistral, llama3, specific = (dict(p.input) for p in simulator.sim.predictions.values())
    assert mistral == {
        "prompt": "<s>\n<|im_start|>system\nBe a good human!<|im_end|><|im_start|>user\n"
        "What do you know about earth?<|im_end|>\n",
        "prompt_template": "{prompt}",
        "max_new_tokens": 4096,
    }
    hello3 = (
        "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    # Config defaults apply beneath the call's own arguments.
    assert llama3 == {"prompt": hello3, "prompt_template": "{prompt}", "max_tokens": 20, "temperature": 0.9}
    assert specific == {"prompt": hello3, "prompt_template": "{prompt}", "min_tokens": 2, "top_k": 20}


async def test_deployment(simulator: RunningSimulator, replicate_key: str) -> None:
    await call(simulator, "replicate/deployments/ishaan-jaff/ishaan-mistral", HELLO)
    (prediction,) = simulator.sim.predictions.values()
    assert prediction.deployment == "ishaan-jaff/ishaan-mistral"
    # Nobody claims the deployment's name: the default format sends the question as it is and keeps the
    # model's own template ("<s>[INST] {prompt} [/INST] "), which formats it for its mistral model.
    assert dict(prediction.input) == {"prompt": "Hello, how are you?"}
