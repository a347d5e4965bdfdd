"""Mappers serve the providers they name: Replicate's conventions never reach another provider."""

from __future__ import annotations

import patchwire
from patchwire.cli import plugins_report
from patchwire.testing import RecordingProvider, plugin, registered

MISTRAL = "mistralai/mistral-7b-instruct-v0.2"  # a model Replicate's name rules rename tokens for
HELLO = [{"role": "user", "content": "Hello"}]
PARAMS = {"stop": ["a", "b"], "max_tokens": 5, "min_tokens": 2, "top_k": 3}


async def test_a_second_provider_receives_none_of_replicates_inputs() -> None:
    # Stand-ins for both, so the same call is seen on each side; the installed mappers stay loaded.
    replicate, other = RecordingProvider("replicate"), RecordingProvider("other")
    with registered(plugin(providers=[replicate, other])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            await router.acompletion(f"replicate/{MISTRAL}", HELLO, **PARAMS)
            await router.acompletion(f"other/{MISTRAL}", HELLO, **PARAMS)
    (to_replicate,) = replicate.inputs
    (to_other,) = other.inputs
    # Replicate gets its conventions: joined stop_sequences, its token names, the prompt_template.
    assert to_replicate == {
        "prompt": to_replicate["prompt"],
        "stop_sequences": "a,b",
        "max_new_tokens": 5,
        "min_new_tokens": 2,
        "prompt_template": "{prompt}",
        "top_k": 3,
    }
    # The other provider gets the caller's parameters as given, and the same prompt.
    assert to_other == {
        "prompt": to_replicate["prompt"],
        "stop": ["a", "b"],
        "max_tokens": 5,
        "min_tokens": 2,
        "top_k": 3,
    }


def test_patchwire_plugins_shows_which_providers_each_mapper_serves() -> None:
    mappers = {m["name"]: m["providers"] for m in plugins_report(patchwire.Plugins())["mappers"]}
    assert mappers == {
        "openai": ["replicate"],
        "reasoning": ["replicate"],
        "token_aliases": ["replicate"],
        "prompt_template": ["replicate"],
        "schema_check": [],
    }
