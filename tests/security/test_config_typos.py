"""A config file's near misses: a credential under a wrong name must not become a model input, a
misspelt setting must not be silently dropped, and a secret in the wrong field must not be echoed."""

from __future__ import annotations

from typing import Any

import pytest

from patchwire.errors import ConfigError
from patchwire.proxy import parse_config

SECRET = "r8_typed-into-the-wrong-place-0123"


def entry(**params: Any) -> dict[str, Any]:
    return {"model_list": [{"model_name": "m", "litellm_params": {"model": "replicate/a/b", **params}}]}


@pytest.mark.parametrize(
    "name",
    ["API_KEY", "Api-Key", "token", "api_token", "REPLICATE_API_TOKEN", "secret", "apikey", "access_key"],
)
def test_a_credential_under_another_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="api_key") as caught:
        parse_config(entry(**{name: SECRET}))
    assert SECRET not in str(caught.value)


def test_ordinary_model_parameters_still_pass() -> None:
    config = parse_config(entry(top_k=5, min_tokens=2, presence_penalty=0.1, keyword="x"))
    (route,) = config.routes["m"]
    assert route.params == {"top_k": 5, "min_tokens": 2, "presence_penalty": 0.1, "keyword": "x"}


def test_a_settings_key_in_the_wrong_case_is_a_near_miss_not_ignored() -> None:
    # Ignored with a warning, MASTER_KEY would leave the proxy without any key.
    with pytest.raises(ConfigError, match="did you mean 'master_key'"):
        parse_config({**entry(), "general_settings": {"MASTER_KEY": SECRET}})


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("router_settings", "timeout"),
        ("router_settings", "max_concurrency"),
        ("general_settings", "max_request_size_mb"),
        ("general_settings", "rpm_limit"),
        ("litellm_settings", "drop_params"),
    ],
)
def test_a_secret_typed_into_a_numeric_or_boolean_field_is_not_echoed(section: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field) as caught:
        parse_config({**entry(), section: {field: SECRET}})
    assert SECRET not in str(caught.value)
    assert "a string" in str(caught.value)


def test_a_secret_in_a_route_timeout_is_not_echoed() -> None:
    with pytest.raises(ConfigError, match="timeout") as caught:
        parse_config(entry(timeout=SECRET))
    assert SECRET not in str(caught.value)
