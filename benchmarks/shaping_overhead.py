"""What shaping a call by the model's schema costs: building a call's inputs with the input shapers,
against the same build with no shapers (the prompt formatter alone, as for a model without a schema).

Both sides run the installed plugins' formatter and mappers on the real published schemas the
simulator serves (``models.json``); no network. Run:

    python benchmarks/shaping_overhead.py [--calls 20000]

Prints microseconds per call for each model, without and with the shapers, and the difference.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import attrs

import patchwire
from patchwire.codec import structure_messages
from patchwire.pipeline import Pipeline, build_pipeline
from patchwire.providers.replicate.schema import input_schema_from_openapi
from patchwire.providers.replicate.simulator.catalog import openapi_schema
from patchwire.providers.replicate.simulator.published import published_models
from patchwire.shaping import build_inputs
from patchwire.types import ChatRequest, InputSchema

MODELS = {
    "anthropic/claude-4-sonnet": {"max_tokens": 2048},
    "openai/gpt-5": {"max_tokens": 100, "reasoning_effort": "low"},
    "google/gemini-2.5-flash": {"max_tokens": 100},
    "deepseek-ai/deepseek-r1": {"max_tokens": 100},
}
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "What is the capital of France?"},
]


def schemas() -> dict[str, InputSchema]:
    found: dict[str, InputSchema] = {}
    for spec in published_models():
        ref = f"{spec.owner}/{spec.name}"
        if ref in MODELS:
            openapi = openapi_schema(spec.inputs, spec.required, spec.components, spec.output)
            schema = input_schema_from_openapi(openapi)
            assert schema is not None
            found[ref] = schema
    return found


def per_call(pipeline: Pipeline, request: ChatRequest, schema: InputSchema, calls: int) -> float:
    build_inputs(pipeline, request, schema)  # warm
    start = time.perf_counter()
    for _ in range(calls):
        build_inputs(pipeline, request, schema)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    plugins = patchwire.get_plugins()
    messages = structure_messages(MESSAGES)
    print(f"{'model':<28} {'no shapers':>11} {'shapers':>9} {'added':>8}  (µs per call, {args.calls} calls)")
    for ref, schema in schemas().items():
        pipeline = build_pipeline(plugins, f"replicate/{ref}")
        bare = attrs.evolve(pipeline, shapers=())
        request = ChatRequest(model=ref, ref=pipeline.ref, messages=messages, params=MODELS[ref])
        # The bare side cannot place reasoning_effort or images either way; only the conversation differs.
        without = per_call(bare, request, schema, args.calls)
        with_shapers = per_call(pipeline, request, schema, args.calls)
        print(f"{ref:<28} {without:>11.1f} {with_shapers:>9.1f} {with_shapers - without:>8.1f}")


if __name__ == "__main__":
    main()
