"""The proxy config: LiteLLM's files parse to routes, and every mistake names file, entry and field."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import patchwire
from patchwire.proxy import load_config, parse_config, parse_config_text
from patchwire.proxy.config import check_models

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_KEY", "r8_from-env")
    monkeypatch.setenv("PROXY_KEY", "sk-1234")


def config_error(text: str, source: str = "proxy.yaml") -> str:
    with pytest.raises(patchwire.ConfigError) as info:
        parse_config_text(text, source=source)
    return str(info.value)


def test_litellm_llama3_example(env: None) -> None:
    config = load_config(EXAMPLES / "llama3-proxy.yaml")
    (route,) = config.routes["llama-3"]
    assert route.model == "replicate/meta/meta-llama-3-8b-instruct"
    assert route.api_key == "r8_from-env"
    assert route.params == {"max_tokens": 20, "temperature": 0.5}
    assert route.template is None
    assert config.keys == ("sk-1234",)


def test_litellm_mistral_template_example(env: None) -> None:
    config = load_config(EXAMPLES / "mistral-template-proxy.yaml")
    (route,) = config.routes["mistral-7b"]
    assert route.model == "replicate/mistralai/Mistral-7B-Instruct-v0.1"  # LiteLLM's string, unpinned
    assert route.params == {"max_tokens": 4096, "min_tokens": 2, "top_k": 20}
    template = route.template
    assert template is not None
    assert template.initial_prompt_value == "\n" and template.final_prompt_value == "\n"
    assert (template.bos_token, template.eos_token) == ("<s>", "</s>")
    assert template.roles["system"] == patchwire.RoleTemplate("<|im_start|>system\n", "<|im_end|>")
    assert template.roles["user"] == patchwire.RoleTemplate("<|im_start|>user\n", "<|im_end|>")
    assert template.roles["assistant"].pre_message == "<|im_start|>assistant\n"


def test_keys_and_api_keys_never_show_in_reprs(env: None) -> None:
    config = load_config(EXAMPLES / "llama3-proxy.yaml")
    assert "sk-1234" not in repr(config) and "r8_from-env" not in repr(config)


def test_missing_environment_variable_names_it_the_file_and_the_entry() -> None:
    message = config_error(
        "model_list:\n"
        "  - model_name: llama-3\n"
        "    litellm_params:\n"
        "      model: replicate/meta/meta-llama-3-8b-instruct\n"
        "      api_key: os.environ/NOT_SET_ANYWHERE\n"
    )
    assert message.startswith("proxy.yaml: model_list[0] (llama-3): field 'litellm_params.api_key'")
    assert "NOT_SET_ANYWHERE is not set" in message


def test_missing_master_key_variable_is_a_start_up_error() -> None:
    message = config_error(
        "model_list: [{model_name: a, params: {model: replicate/a/b}}]\n"
        "general_settings: {master_key: os.environ/NO_SUCH_PROXY_KEY}\n"
    )
    assert "general_settings: field 'master_key'" in message and "NO_SUCH_PROXY_KEY" in message


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        # A typo of one of patchwire's own keys would otherwise be sent to the model as an input.
        (
            "model_list: [{model_name: a, litellm_params: {model: replicate/a/b, api_kye: x}}]",
            "model_list[0] (a): field 'litellm_params.api_kye': unknown key; did you mean 'api_key'?",
        ),
        (
            "model_list: [{model_name: a, litellm_params: {model: replicate/a/b}, litelm_params: {}}]",
            "model_list[0] (a): field 'litelm_params': unknown key; did you mean 'litellm_params'?",
        ),
        (
            "model_list: [{model_name: a, params: {model: replicate/a/b}}]\nmodel_lists: []",
            "field 'model_lists': unknown key; did you mean 'model_list'?",
        ),
        (
            "model_list: [{model_name: a, params: {model: replicate/a/b}}]\nserver: {port: 1}",
            "field 'server': unknown key; known keys here: model_list",
        ),
        (
            "model_list: [{model_name: a, params: {model: replicate/a/b}}]\n"
            "general_settings: {master_keys: sk-1}",
            "general_settings: field 'master_keys': unknown key; did you mean 'master_key'?",
        ),
        (
            "model_list: [{model_name: a, params: {temperature: 0.5}}]",
            "model_list[0] (a): field 'params.model': missing",
        ),
        (
            "model_list: [{model_name: a, params: {model: replicate/a/b, temperature: hot}}]",
            "model_list[0] (a): field 'params.temperature': temperature must be a number",
        ),
        (
            "model_list: [{model_name: a, params: {model: replicate/a/b, timeout: -1}}]",
            "field 'params.timeout': must be a positive number",
        ),
        (
            "model_list: [{model_name: a, params: {model: replicate/a/b, roles: {user: {pre: x}}}}]",
            "field 'params.roles.user': roles.user has unknown keys",
        ),
        (
            "model_list: [{model_name: a, params: {model: replicate/a/b, seed: os.environ/SECRET}}]",
            "field 'params.seed': only api_key and api_base may read the environment",
        ),
        (
            "model_list: [{model_name: a, params: {model: m}, litellm_params: {model: m}}]",
            "give either params or litellm_params, not both",
        ),
        ("model_list: [{params: {model: replicate/a/b}}]", "model_list[0]: field 'model_name'"),
        ("model_list: []", "field 'model_list': must be a non-empty list"),
        ("general_settings: {}", "field 'model_list': missing"),
        ("- just\n- a list", "the config must be a mapping"),
        (
            "model_list: [{model_name: a, params: {model: replicate/a/b}}]\nkeys: sk-1",
            "field 'keys': must be a list",
        ),
        (
            "model_list: [{model_name: a, params: {model: replicate/a/b}}]\n"
            "router_settings: {max_concurrency: 0}",
            "router_settings: field 'max_concurrency': must be a positive integer",
        ),
    ],
)
def test_config_mistakes_name_the_file_entry_and_field(yaml_text: str, expected: str) -> None:
    message = config_error(yaml_text)
    assert message.startswith("proxy.yaml: ")
    assert expected in message


def test_bad_yaml_names_the_line() -> None:
    # LiteLLM's web page lost the spaces after the colons: `model_name:llama-3` is a plain string.
    mangled = "model_list:\n-model_name: llama-3\nlitellm_params:\n  model: x\n  roles: {a: [}\n"
    message = config_error(mangled)
    assert message.startswith("proxy.yaml: line ")
    assert "invalid YAML" in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(patchwire.ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_litellm_settings_patchwire_does_not_implement_are_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="patchwire.proxy"):
        config = parse_config_text(
            "model_list:\n"
            "  - model_name: a\n"
            "    litellm_params: {model: replicate/a/b, rpm: 10, max_tokens: 5}\n"
            "    model_info: {id: x}\n"
            "litellm_settings: {drop_params: true, callbacks: [langfuse]}\n"
            "general_settings: {database_url: postgres://x}\n"
            "environment_variables: {A: b}\n",
            source="litellm.yaml",
        )
    assert config.routes["a"][0].params == {"max_tokens": 5}
    assert config.routes["a"][0].drop_params  # the global setting reaches every route
    warned = caplog.text
    for field in ("litellm_params.rpm", "model_info", "callbacks", "database_url", "environment_variables"):
        assert f"field '{field}' is ignored" in warned


def test_entries_with_one_name_become_one_alias_with_several_routes() -> None:
    config = parse_config(
        {
            "model_list": [
                {"model_name": "llama-3", "params": {"model": "replicate/a/one", "api_base": "http://one"}},
                {"model_name": "llama-3", "params": {"model": "replicate/a/two"}},
                {"model_name": "other", "params": {"model": "replicate/b/c", "prompt_format": "chatml"}},
            ]
        }
    )
    assert [r.model for r in config.routes["llama-3"]] == ["replicate/a/one", "replicate/a/two"]
    assert config.routes["other"][0].format == "chatml"
    assert config.aliases == ["llama-3", "other"]


def test_settings_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM", "sk-team")
    config = parse_config(
        {
            "model_list": [
                {"model_name": "a", "params": {"model": "replicate/a/b", "timeout": 30}},
                {"model_name": "b", "params": {"model": "replicate/a/c", "drop_params": True}},
            ],
            "general_settings": {"master_key": "sk-1", "max_request_size_mb": 1},
            "keys": ["sk-2", "os.environ/TEAM"],
            "router_settings": {"max_connections": 50, "max_concurrency": 8, "timeout": 120, "rpm": 600},
        }
    )
    assert config.keys == ("sk-1", "sk-2", "sk-team")
    assert config.max_request_size == 1024 * 1024
    assert (config.max_connections, config.max_concurrency, config.rpm) == (50, 8, 600)
    assert config.timeout == 120
    # Each route carries its own policy; the config-wide timeout fills in where a route sets none.
    (a,), (b,) = config.routes["a"], config.routes["b"]
    assert (a.timeout, a.drop_params) == (30, False)
    assert (b.timeout, b.drop_params) == (120, True)


class _Provider:
    name = "fake"
    wants_prompt = False

    def parse_model(self, raw: str) -> patchwire.ModelRef:
        if raw.count("/") != 1:
            raise patchwire.BadRequestError(f"{raw!r} is not owner/name", param="model")
        return patchwire.ModelRef(provider="fake", raw=raw)


class _Plugin:
    @patchwire.hookimpl
    def patchwire_providers(self) -> list[Any]:
        return [_Provider()]


def test_model_strings_are_resolved_at_start_up() -> None:
    plugins = patchwire.Plugins(load_entrypoints=False)
    plugins.register(_Plugin())
    good = parse_config({"model_list": [{"model_name": "a", "params": {"model": "fake/o/n"}}]})
    check_models(good, plugins)
    for model, expected in [("fake/o/n/x", "is not owner/name"), ("nobody/o/n", "no known provider prefix")]:
        bad = parse_config(
            {
                "model_list": [
                    {"model_name": "a", "params": {"model": "fake/o/n"}},
                    {"model_name": "b", "litellm_params": {"model": model}},
                ]
            },
            source="p.yaml",
        )
        with pytest.raises(patchwire.ConfigError) as info:
            check_models(bad, plugins)
        assert str(info.value).startswith("p.yaml: model_list[1] (b): field 'model': ")
        assert expected in str(info.value)
