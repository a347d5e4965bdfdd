"""Request and input validation with Replicate's 422 shape.

Replicate validates with a JSON-schema library whose messages match gojsonschema's; the
`type`/`description` pairs below copy the recorded ones (`required`, `number_lte`, `enum`,
`additional_property_not_allowed`) and extend them in the same style.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import orjson

InvalidField = dict[str, str]

_JSON_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    list: "array",
    dict: "object",
    type(None): "null",
}


def json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "object")


def _fmt(number: Any) -> str:
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def _type_ok(expected: str, value: Any) -> bool:
    if expected == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return json_type(value) == expected


def _field(kind: str, field: str, description: str) -> InvalidField:
    return {"type": kind, "field": field, "description": description}


def resolve(prop: Mapping[str, Any], components: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`prop` with the schemas its `allOf` refers to folded in (Cog writes enums that way)."""
    all_of = prop.get("allOf")
    if not isinstance(all_of, list):
        return dict(prop)
    merged: dict[str, Any] = {}
    for part in all_of:
        ref = part.get("$ref", "") if isinstance(part, Mapping) else ""
        target = components.get(ref.rpartition("/")[2]) if ref.startswith(_REF_PREFIX) else None
        merged.update(target if target is not None else part)
    merged.update({k: v for k, v in prop.items() if k != "allOf"})
    return merged


_REF_PREFIX = "#/components/schemas/"


def _check_value(name: str, field: str, prop: Mapping[str, Any], value: Any) -> InvalidField | None:
    expected = prop.get("type")
    if expected and not _type_ok(expected, value):
        given = json_type(value)
        return _field("invalid_type", field, f"Invalid type. Expected: {expected}, given: {given}")
    if "enum" in prop and value not in prop["enum"]:
        allowed = ", ".join(orjson.dumps(v).decode() for v in prop["enum"])
        return _field("enum", field, f"{name} must be one of the following: {allowed}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in prop and value < prop["minimum"]:
            return _field("number_gte", field, f"Must be greater than or equal to {_fmt(prop['minimum'])}")
        if "maximum" in prop and value > prop["maximum"]:
            return _field("number_lte", field, f"Must be less than or equal to {_fmt(prop['maximum'])}")
    if isinstance(value, str):
        if len(value) < prop.get("minLength", 0):
            return _field(
                "string_gte", field, f"String length must be greater than or equal to {prop['minLength']}"
            )
        if prop.get("format") == "uri" and not _is_uri(value):
            return _field("format", field, "Does not match format 'uri'")
    return None


def _is_uri(value: str) -> bool:
    """An absolute URI: a scheme and something after it (https URLs, data: URLs, file URLs)."""
    scheme, colon, rest = value.partition(":")
    return bool(colon and rest and _SCHEME.fullmatch(scheme))


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def _check_property(
    key: str, prop: Mapping[str, Any], value: Any, components: Mapping[str, Mapping[str, Any]]
) -> list[InvalidField]:
    field = f"input.{key}"
    prop = resolve(prop, components)
    problem = _check_value(key, field, prop, value)
    if problem is not None:
        return [problem]
    items = prop.get("items")
    if not isinstance(value, list) or not isinstance(items, Mapping):
        return []
    items = resolve(items, components)
    found = (_check_value(f"{key}.{i}", f"{field}.{i}", items, item) for i, item in enumerate(value))
    return [p for p in found if p is not None]


def validate_input(
    inputs: Mapping[str, Mapping[str, Any]],
    required: Sequence[str],
    values: Mapping[str, Any],
    components: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[InvalidField]:
    """Check `values` against a Cog Input schema (`components`: the schemas its `allOf`s refer to).
    Unknown keys pass (Cog sets no additionalProperties:false); a missing required key is reported
    on its parent, `input`."""
    problems = [_field("required", "input", f"{k} is required") for k in required if k not in values]
    for key, value in values.items():
        prop = inputs.get(key)
        if prop is not None:
            problems += _check_property(key, prop, value, components or {})
    return problems


def validate_body(body: Any, allowed: Collection[str], required: Sequence[str]) -> list[InvalidField]:
    """Top-level create body: `additionalProperties: false` and required keys [OAS]."""
    if not isinstance(body, dict):
        return [_field("invalid_type", "", f"Invalid type. Expected: object, given: {json_type(body)}")]
    problems = [_field("required", "", f"{k} is required") for k in required if k not in body]
    problems += [
        _field("additional_property_not_allowed", "", f"Additional property {k} is not allowed")
        for k in body
        if k not in allowed
    ]
    if "input" in body and not isinstance(body["input"], dict):
        given = json_type(body["input"])
        problems.append(_field("invalid_type", "input", f"Invalid type. Expected: object, given: {given}"))
    if "version" in body and "version" in allowed and not isinstance(body["version"], str):
        given = json_type(body["version"])
        problems.append(_field("invalid_type", "version", f"Invalid type. Expected: string, given: {given}"))
    return problems


def problem_422(problems: list[InvalidField]) -> dict[str, Any]:
    detail = "".join(f"- {p['field'] or '(root)'}: {p['description']}\n" for p in problems)
    return {
        "detail": detail,
        "status": 422,
        "title": "Input validation failed",
        "invalid_fields": problems,
    }
