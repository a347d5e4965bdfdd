"""``chat_template:`` and ``supports_system_prompt:`` in a proxy config entry, through the proxy over HTTP
to the simulator; and the config mistakes around them, refused at start-up with file, entry and field."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import yaml
from support import EARTH, ZEPHYR, RunningSimulator

import patchwire
from patchwire.proxy import serve_app
from patchwire.proxy.config import check_models, parse_config_text

A16Z = (
    "replicate/a16z-infra/llama-2-13b-chat:2a7f981751ec7fdf87b5b91ad4db53683a98082e9ff7bfd12c8cd5ea85980a52"
)


def config_text(api_base: str, **extra: Any) -> str:
    entry = {
        "model_name": "zephyr",
        "litellm_params": {
            "model": A16Z,
            "api_base": api_base,
            "chat_template": ZEPHYR,
            "eos_token": "</s>",
            **extra,
        },
    }
    return yaml.safe_dump({"model_list": [entry]})


async def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(f"{url}/v1/chat/completions", json=body) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("supports_system_prompt", [False, True])
async def test_config_chat_template_renders_through_the_proxy(
    simulator: RunningSimulator, replicate_key: str, supports_system_prompt: bool
) -> None:
    extra = {"supports_system_prompt": True} if supports_system_prompt else {}
    config = parse_config_text(config_text(simulator.url, **extra))
    async with serve_app(config, host="127.0.0.1", port=0, plugins=patchwire.Plugins()) as url:
        status, body = await post(url, {"model": "zephyr", "messages": EARTH})
    assert status == 200, body
    (prediction,) = simulator.sim.predictions.values()
    if supports_system_prompt:
        assert dict(prediction.input) == {
            "prompt": "<|user|>\nWhat do you know about earth?</s>\n<|assistant|>\n",
            "system_prompt": "Be a good human!",
        }
    else:
        assert dict(prediction.input) == {
            "prompt": "<|system|>\nBe a good human!</s>\n"
            "<|user|>\nWhat do you know about earth?</s>\n<|assistant|>\n"
        }


async def test_a_config_template_reaching_for_internals_answers_400_and_calls_nothing(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    text = config_text(simulator.url, chat_template="{{ cycler.__init__.__globals__.os }}")
    config = parse_config_text(text)
    assert config.routes["zephyr"][0].template is not None
    assert config.routes["zephyr"][0].template.chat_template == "{{ cycler.__init__.__globals__.os }}"
    async with serve_app(config, host="127.0.0.1", port=0, plugins=patchwire.Plugins()) as url:
        status, body = await post(url, {"model": "zephyr", "messages": EARTH})
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert "sandbox" in body["error"]["message"]
    assert not simulator.sim.predictions


async def test_supports_system_prompt_without_a_template_is_a_default_call_parameter(
    simulator: RunningSimulator, replicate_key: str
) -> None:
    text = yaml.safe_dump(
        {
            "model_list": [
                {
                    "model_name": "llama-2",
                    "litellm_params": {
                        "model": A16Z,
                        "api_base": simulator.url,
                        "supports_system_prompt": True,
                    },
                }
            ]
        }
    )
    config = parse_config_text(text)
    async with serve_app(config, host="127.0.0.1", port=0, plugins=patchwire.Plugins()) as url:
        status, body = await post(url, {"model": "llama-2", "messages": EARTH})
    assert status == 200, body
    (prediction,) = simulator.sim.predictions.values()
    assert dict(prediction.input) == {
        "prompt": "<s>[INST] What do you know about earth? [/INST]",
        "system_prompt": "Be a good human!",
    }


@pytest.mark.parametrize(
    ("extra", "field", "problem"),
    [
        ({"roles": {"user": {"pre_message": "Q"}}}, "roles", "either chat_template"),
        ({"initial_prompt_value": "x"}, "initial_prompt_value", "either chat_template"),
        ({"chat_template": 12}, "chat_template", "must be a string"),
        ({"supports_system_prompt": "yes"}, "supports_system_prompt", "true or false"),
    ],
)
def test_config_template_mistakes_are_refused_when_read(
    extra: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(patchwire.ConfigError) as info:
        parse_config_text(config_text("http://127.0.0.1:9", **extra), source="proxy.yaml")
    message = str(info.value)
    assert (
        message.startswith("proxy.yaml: model_list[0] (zephyr): field 'litellm_params.")
        and problem in message
    )
    assert field in message


def test_a_template_that_is_not_valid_jinja_stops_the_start() -> None:
    config = parse_config_text(config_text("http://127.0.0.1:9", chat_template="{% for m in messages %}"))
    with pytest.raises(patchwire.ConfigError) as info:
        check_models(config, patchwire.Plugins())
    assert "model_list[0] (zephyr): field 'chat_template': the chat template" in str(info.value)
    assert "not valid Jinja" in str(info.value)
