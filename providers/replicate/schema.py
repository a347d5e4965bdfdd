"""A model's inputs, from the Cog ``openapi_schema`` Replicate publishes for each version.

Where the schema lives: ``GET /v1/models/{owner}/{name}`` (``latest_version``) for an official model,
``GET /v1/models/{owner}/{name}/versions/{id}`` for a pinned one, and for a deployment the version its
``current_release`` runs. A bare version id (or a short ``name:<version>``) names no model, so there is
no schema to fetch: mappers then fall back to their defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patchwire.types import InputSchema, InputSpec, ModelRef


def _resolve(prop: Mapping[str, Any], schemas: Mapping[str, Any]) -> Mapping[str, Any]:
    """Cog writes enums as ``allOf: [{"$ref": "#/components/schemas/<name>"}]``: fold the referenced
    schema's ``type``/``enum`` into the property."""
    all_of = prop.get("allOf")
    if not isinstance(all_of, list):
        ref = prop.get("$ref")
        if isinstance(ref, str):  # a bare $ref (items of an array of enums are written so)
            return _resolve(
                {**{k: v for k, v in prop.items() if k != "$ref"}, "allOf": [{"$ref": ref}]}, schemas
            )
        return prop
    merged: dict[str, Any] = {}
    for part in all_of:
        if isinstance(part, Mapping):
            ref = part.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                target = schemas.get(ref.rsplit("/", 1)[1])
                if isinstance(target, Mapping):
                    merged.update(target)
            else:
                merged.update(part)
    merged.update({k: v for k, v in prop.items() if k != "allOf"})
    return merged


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def input_schema_from_openapi(openapi: Any) -> InputSchema | None:
    """The ``Input`` schema of a Cog ``openapi_schema``, or None when it has none."""
    if not isinstance(openapi, Mapping):
        return None
    schemas = openapi.get("components", {}).get("schemas", {})
    if not isinstance(schemas, Mapping):
        return None
    input_schema = schemas.get("Input")
    if not isinstance(input_schema, Mapping):
        return None
    properties = input_schema.get("properties")
    if not isinstance(properties, Mapping):
        return None
    specs: dict[str, InputSpec] = {}
    # Cog's x-order is the order the model's author declared; keep it for help texts.
    ordered = sorted(
        properties.items(),
        key=lambda item: item[1].get("x-order", 1 << 30) if isinstance(item[1], Mapping) else 1 << 30,
    )
    for name, raw in ordered:
        if not isinstance(raw, Mapping):
            continue
        prop = _resolve(raw, schemas)
        enum = prop.get("enum")
        type_ = prop.get("type")
        description = prop.get("description")
        items = prop.get("items")
        items = _resolve(items, schemas) if isinstance(items, Mapping) else {}
        max_items = prop.get("maxItems")
        specs[name] = InputSpec(
            name=name,
            type=_text(type_),
            default=prop.get("default"),
            minimum=_number(prop.get("minimum")),
            maximum=_number(prop.get("maximum")),
            enum=tuple(enum) if isinstance(enum, list) else None,
            description=_text(description),
            format=_text(prop.get("format")),
            item_type=_text(items.get("type")),
            item_format=_text(items.get("format")),
            max_items=max_items if type(max_items) is int and max_items >= 0 else None,
        )
    required = input_schema.get("required")
    req = tuple(r for r in required if isinstance(r, str)) if isinstance(required, list) else ()
    return InputSchema(inputs=specs, required=req)


def schema_path(ref: ModelRef) -> str | None:
    """The first request towards the reference's schema, or None when it names no model."""
    if ref.deployment:
        return f"/v1/deployments/{ref.owner}/{ref.name}"
    if not ref.owner:
        return None
    if ref.version is not None:
        return f"/v1/models/{ref.owner}/{ref.name}/versions/{ref.version}"
    return f"/v1/models/{ref.owner}/{ref.name}"


def openapi_of(body: Any) -> Any:
    """The ``openapi_schema`` in a model (its ``latest_version``) or version object."""
    if not isinstance(body, Mapping):
        return None
    if "openapi_schema" in body:
        return body["openapi_schema"]
    latest = body.get("latest_version")
    if isinstance(latest, Mapping):
        return latest.get("openapi_schema")
    return None


def deployment_version_path(body: Any) -> str | None:
    """A deployment object's current release as a version path."""
    if not isinstance(body, Mapping):
        return None
    release = body.get("current_release")
    if not isinstance(release, Mapping):
        return None
    model, version = release.get("model"), release.get("version")
    if not isinstance(model, str) or "/" not in model or not isinstance(version, str):
        return None
    return f"/v1/models/{model}/versions/{version}"
