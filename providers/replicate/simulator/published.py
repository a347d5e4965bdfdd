"""Language models published on Replicate, with their input and output schemas, from ``models.json``.

``models.json`` is a record of 44 models' schemas as their pages and clients show them, with notes on
how each was found. This module turns each record into the schema Cog itself would publish: inputs
with ``title`` and ``x-order``, enums as ``allOf: [{"$ref": "#/components/schemas/<name>"}]`` with
the enum in ``components.schemas``, required inputs in a ``required`` list, and the output schema
(an iterator of strings, or one string). A model whose record says its reasoning comes back inline
emits ``<think>…</think>`` at the start of its output.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from .catalog import ModelSpec, synthetic_id

#: The JSON Schema keywords a property keeps; the rest of a record (evidence, notes) is dropped.
_KEYWORDS = ("type", "format", "description", "default", "minimum", "maximum", "minLength", "maxLength")
_ITEM_KEYWORDS = ("type", "format")
_OUTPUT_DROP = frozenset({"inferred_flags", "note"})


@functools.cache
def _records() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("models.json").read_text(encoding="utf-8")
    models: dict[str, Any] = json.loads(text)["models"]
    return models


def published_models() -> list[ModelSpec]:
    """Every model of ``models.json`` as a `ModelSpec`, in the file's order."""
    return [_spec(ref, record) for ref, record in _records().items()]


def _spec(ref: str, record: dict[str, Any]) -> ModelSpec:
    owner, _, name = ref.partition("/")
    inputs: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {}
    required = list(record.get("required", ()))
    for order, (key, raw) in enumerate(record["input"].items()):
        inputs[key], enum = _property(key, raw, order)
        if enum is not None:
            components[key] = enum
        if raw.get("required") is True and key not in required:
            required.append(key)
    versions = tuple(record.get("versions_seen", {})) or (synthetic_id(ref),)
    reasoning = record.get("reasoning", {}).get("how_returned", "")
    return ModelSpec(
        owner=owner,
        name=name,
        inputs=inputs,
        required=tuple(required),
        versions=versions,
        official=record.get("official") is True,
        description=f"{ref} (simulated; input family {record['family']})",
        components=components,
        output=_output(record.get("output", {})),
        think=reasoning.startswith("inline"),
    )


def _property(key: str, raw: dict[str, Any], order: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The Cog property for one recorded input, and its enum schema if it has one."""
    prop: dict[str, Any] = {k: raw[k] for k in _KEYWORDS if k in raw}
    prop["title"] = key.replace("_", " ").title()
    prop["x-order"] = order
    if isinstance(raw.get("items"), dict):
        prop["items"] = {k: raw["items"][k] for k in _ITEM_KEYWORDS if k in raw["items"]}
    if "enum" not in raw:
        return prop, None
    # Cog publishes an enum as a reference to a schema of its own; the property has no `type`.
    del prop["type"]
    prop["allOf"] = [{"$ref": f"#/components/schemas/{key}"}]
    enum = {"title": key, "description": "An enumeration.", "enum": list(raw["enum"]), "type": "string"}
    return prop, enum


def _output(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The recorded output schema; None (an iterator of strings) where the record does not know it."""
    if raw.get("type") not in ("array", "string"):
        return None
    return {k: v for k, v in raw.items() if k not in _OUTPUT_DROP}
