"""`patchwire inspect`: a model's inputs and the exact request a sample conversation sends, key redacted."""

from __future__ import annotations

import argparse

import pytest
from support import TEST_KEY, RunningSimulator

from patchwire.inspect_model import SAMPLE_IMAGE, _print, inspect

S = {"type": "string"}


def args(model: str, url: str, *params: str, **extra: object) -> argparse.Namespace:
    values = {
        "model": model,
        "api_base": url,
        "api_key": TEST_KEY,
        "system": "Be brief.",
        "user": None,
        "image": None,
        "param": list(params),
        "stream": False,
        "json": False,
    }
    values.update(extra)
    return argparse.Namespace(**values)


async def test_shows_inputs_and_the_create_request(
    simulator: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    simulator.sim.add_model(
        "acme",
        "vision-chat",
        schema_inputs={
            "prompt": S,
            "image": {"type": "string", "format": "uri"},
            "system_prompt": {**S, "default": ""},
            "max_tokens": {"type": "integer", "minimum": 1024, "maximum": 64000},
        },
        official=True,
    )
    report = await inspect(args("replicate/acme/vision-chat", simulator.url, "max_tokens=2048"))
    assert [spec["name"] for spec in report["inputs"]] == ["prompt", "image", "system_prompt", "max_tokens"]
    assert report["inputs"][3]["range"] == [1024, 64000]
    (create,) = report["requests"]
    assert create["url"] == f"{simulator.url}/v1/models/acme/vision-chat/predictions"
    assert create["headers"]["Authorization"] == "Bearer <redacted>"
    assert create["body"] == {
        "input": {
            "system_prompt": "Be brief.",
            "prompt": "What is in this picture?",
            "image": SAMPLE_IMAGE,
            "max_tokens": 2048,
        }
    }
    # Nothing was run.
    assert not simulator.sim.predictions
    _print(report)
    out = capsys.readouterr().out
    assert TEST_KEY not in out
    assert "POST " in out and '"system_prompt": "Be brief."' in out


async def test_text_model_gets_no_sample_image(simulator: RunningSimulator) -> None:
    report = await inspect(args("replicate/meta/meta-llama-3-8b-instruct", simulator.url, stream=True))
    (create,) = report["requests"]
    assert create["body"]["stream"] is True
    assert create["body"]["input"]["prompt_template"] == "{prompt}"
    assert "Hello! What can you do?" in create["body"]["input"]["prompt"]
