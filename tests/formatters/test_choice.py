"""Which formatter a model gets: the built-in table, the default, forced formats and templates."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import pytest

import patchwire
from patchwire import BadRequestError
from patchwire.pipeline import build_pipeline

A16Z = "2a7f981751ec7fdf87b5b91ad4db53683a98082e9ff7bfd12c8cd5ea85980a52"
FLAN = "ce962b3f6792a57074a601d3979db5839697add2e4e02696b3ced4c022d4767f"

# The README's model -> formatter table.
TABLE = [
    ("replicate/meta/meta-llama-3-8b-instruct", "llama3"),
    ("replicate/meta/meta-llama-3-70b-instruct", "llama3"),
    ("replicate/meta/meta-llama-3.1-405b-instruct", "llama3.1"),
    ("replicate/acme/llama-3.3-70b-instruct", "llama3.1"),
    ("replicate/acme/llama-3.2-3b-instruct", "llama3.2"),
    ("replicate/meta/llama-2-70b-chat", "llama2"),
    ("replicate/llama-2-70b-chat:2796ee9483c3fd7aa2e171d38f4ca12251a30609463dcfd4cd76703f22e96cdf", "llama2"),
    (f"replicate/a16z-infra/llama-2-13b-chat:{A16Z}", "llama2"),
    ("replicate/meta/codellama-13b-instruct", "llama2"),
    ("replicate/mistralai/mistral-7b-instruct-v0.2", "mistral"),
    ("replicate/mistralai/Mistral-7B-Instruct-v0.1", "mistral"),
    ("replicate/mistralai/mixtral-8x7b-instruct-v0.1", "mistral"),
    ("replicate/nateraw/openhermes-2.5-mistral-7b", "chatml"),
    ("replicate/lucataco/dolphin-2.2.1-mistral-7b", "chatml"),
    ("replicate/acme/qwen2-7b-instruct", "qwen2"),
    ("replicate/acme/qwen2.5-7b-instruct", "qwen2.5"),
    ("replicate/acme/qwen2.5-coder-32b-instruct", "qwen2.5"),
    ("replicate/acme/qwen1.5-14b-chat", "qwen1.5"),
    ("replicate/qwen/qwen3-235b-a22b-instruct-2507", "default"),  # no exact format: sent as written
    ("replicate/lucataco/qwen-vl-chat", "default"),
    ("replicate/mistralai/mistral-7b-instruct-v0.3", "default"),  # another tokenizer: not v1
    ("replicate/vicuna-13b:6282abe6a492de4145d7bb601023762212f9ddbbe78278bd6771c8b3b2f2a13b", "default"),
    (f"replicate/daanelson/flan-t5-large:{FLAN}", "default"),
    ("replicate/custom-llm-version-id", "default"),
    ("replicate/deployments/ishaan-jaff/ishaan-mistral", "default"),
    ("replicate/meta/meta-llama-3-8b", "default"),  # a base model: no chat format
]  # fmt: skip


@pytest.fixture(scope="module")
def plugins() -> patchwire.Plugins:
    return patchwire.Plugins()


@pytest.mark.parametrize(("model", "expected"), TABLE)
def test_model_gets_its_format(plugins: patchwire.Plugins, model: str, expected: str) -> None:
    pipeline = build_pipeline(plugins, model)
    assert pipeline.formatter is not None and pipeline.formatter.name == expected


def test_unclaimed_model_logs_which_model_got_the_default(
    plugins: patchwire.Plugins, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="patchwire"):
        build_pipeline(plugins, "replicate/someone/some-model")
    lines = [r.getMessage() for r in caplog.records if "no prompt formatter claims" in r.getMessage()]
    assert lines == [
        "patchwire: no prompt formatter claims replicate/someone/some-model; using the 'default' format "
        "(pass format= to choose one)"
    ]


@pytest.mark.parametrize(
    "name",
    [
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama2",
        "mistral",
        "chatml",
        "qwen1.5",
        "qwen2",
        "qwen2.5",
        "default",
    ],
)
def test_format_forces_a_formatter(plugins: patchwire.Plugins, name: str) -> None:
    pipeline = build_pipeline(plugins, "replicate/someone/some-model", requested_format=name)
    assert pipeline.formatter is not None and pipeline.formatter.name == name


def test_forcing_custom_without_a_template_says_how_to_get_one(plugins: patchwire.Plugins) -> None:
    with pytest.raises(BadRequestError, match="register_prompt_template") as info:
        build_pipeline(plugins, "replicate/someone/some-model", requested_format="custom")
    assert info.value.param == "format"


def test_unknown_format_lists_the_available_ones(plugins: patchwire.Plugins) -> None:
    with pytest.raises(
        BadRequestError,
        match=re.escape(
            "available formats: chatml, default, llama2, llama3, llama3.1, llama3.2, mistral, qwen1.5, "
            "qwen2, qwen2.5"
        ),
    ):
        build_pipeline(plugins, "replicate/meta/meta-llama-3-8b-instruct", requested_format="alpaca")


async def test_a_registered_template_beats_the_built_in_format() -> None:
    async with patchwire.Router(plugins=patchwire.Plugins()) as router:
        router.register_prompt_template(
            "replicate/meta/meta-llama-3-8b-instruct", roles={"user": {"pre_message": "Q: "}}
        )
        pipeline = build_pipeline(router.plugins, "replicate/meta/meta-llama-3-8b-instruct")
        assert pipeline.formatter is not None
        assert pipeline.formatter.name == "custom:meta/meta-llama-3-8b-instruct"
        assert pipeline.formatter.render([patchwire.Message("user", "hi")]) == "Q: hi"
        # Other models keep theirs.
        other = build_pipeline(router.plugins, "replicate/meta/meta-llama-3-70b-instruct")
        assert other.formatter is not None and other.formatter.name == "llama3"


def test_patchwire_plugins_lists_every_format_with_its_models() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "patchwire", "plugins"], capture_output=True, text=True, check=True
    ).stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and "/" in line}
    assert "meta/meta-llama-3-*-instruct" in rows["llama3"]
    assert "meta/llama-2-*-chat" in rows["llama2"]
    assert "mistralai/mixtral-8x7b-instruct-v0.1" in rows["mistral"]
    assert "meta/meta-llama-3.1-*-instruct" in rows["llama3.1"]
    assert "*/qwen2.5-[0-9]*-instruct*" in rows["qwen2.5"]
    assert "*chatml*" in rows["chatml"]
    assert "default                  (fallback: models nobody claims)" in out
    assert "  1000  schema_check" in out
