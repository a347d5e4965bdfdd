"""Placing a conversation among a model's inputs: the input shapers, then the prompt formatter, then
the parameter mappers.

Shapers (``patchwire_input_shapers``) read the model's schema and move what the model takes in its own
inputs (a ``messages`` array, a ``system_prompt``, images) there. Whatever conversation no shaper
placed is rendered by the model's prompt formatter into ``prompt``, exactly as for a model whose schema
is unknown. The mappers (``patchwire_param_mappers``) then turn the call's parameters into inputs.

What depends only on the model (which shapers and mappers have work to do for it, and the schema
lookups they would repeat on every call) is fixed once per model and schema in an ``InputPlan``
(``MapperExtras.prepare``); a call pays only for what is left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from patchwire import contract
from patchwire.interfaces import InputShaper, MapCall, ModelFacts, ParamMapper, ShapeCall, prepared_for
from patchwire.types import ChatRequest, InputSchema

if TYPE_CHECKING:
    from patchwire.pipeline import Pipeline


class InputPlan:
    """How calls to one model (one pipeline, one input schema) become the model's inputs: the shapers
    and mappers with something to do for it, in order, each as the function it runs per call."""

    __slots__ = ("facts", "mappers", "pipeline", "shapers")

    def __init__(self, pipeline: Pipeline, schema: InputSchema | None) -> None:
        self.pipeline = pipeline
        self.facts = ModelFacts(pipeline.ref, schema, pipeline.formatter, pipeline.format_chosen)
        self.shapers = _prepared(pipeline, pipeline.shapers, self.facts, "shaper", "shape")
        self.mappers = _prepared(pipeline, pipeline.mappers, self.facts, "mapper", "map")

    def build(self, request: ChatRequest) -> dict[str, Any]:
        """Every input the call sends: the conversation placed by the shapers (else rendered by the
        formatter into ``prompt``), then the parameters mapped (a shaper may consume some first);
        whatever no mapper consumed passes through under its own name."""
        params = dict(request.params)
        inputs: dict[str, Any] = {}
        facts = self.facts
        messages = request.messages
        placed = False
        if self.shapers:
            shape_call = ShapeCall(
                facts.ref, facts.schema, messages, params, inputs, facts.formatter, facts.format_chosen
            )
            for shape in self.shapers:
                shape(shape_call)
            placed = shape_call.placed
            messages = shape_call.messages
        if not placed and facts.formatter is not None:
            prompt = facts.formatter.render(messages)
            if prompt.__class__ is not str:
                raise self.pipeline.not_a_prompt(prompt)
            inputs["prompt"] = prompt
        if self.mappers:
            call = MapCall(facts.ref, facts.schema, params, inputs, request.drop_params, facts.formatter)
            for map_params in self.mappers:
                map_params(call)
            params = call.params
        inputs.update(params)
        return inputs


def _prepared(
    pipeline: Pipeline,
    objects: Sequence[ParamMapper | InputShaper],
    facts: ModelFacts,
    kind: str,
    method: str,
) -> tuple[Callable[[Any], None], ...]:
    found = []
    for obj in objects:
        function = prepared_for(obj, facts, method)
        if function is None:
            continue  # nothing to do for this model
        if not callable(function):
            subject = f"{kind} {getattr(obj, 'name', type(obj).__name__)!r}"
            origin = pipeline.origins.get(id(obj))
            raise contract.bad_result(subject, origin, "prepare", function, "a function or None")
        found.append(function)
    return tuple(found)


def build_inputs(pipeline: Pipeline, request: ChatRequest, schema: InputSchema | None) -> dict[str, Any]:
    """Every input the call sends (``InputPlan.build`` of the model's plan)."""
    return pipeline.plan(schema).build(request)
