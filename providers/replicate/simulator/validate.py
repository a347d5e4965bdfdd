"""Request and input validation with Replicate's 422 shape.

Replicate validates with a JSON-schema library whose messages match gojsonschema's; the
`type`/`description` pairs below copy the recorded ones (`required`, `number_lte`, `enum`,
`additional_property_not_allowed`) and extend them in the same style.
"""

from __future__ import annotations

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


def _check_property(key: str, prop: Mapping[str, Any], value: Any) -> InvalidField | None:
    field = f"input.{key}"
    expected = prop.get("type")
    if expected and not _type_ok(expected, value):
        given = json_type(value)
        return _field("invalid_type", field, f"Invalid type. Expected: {expected}, given: {given}")
    if "enum" in prop and value not in prop["enum"]:
        allowed = ", ".join(orjson.dumps(v).decode() for v in prop["enum"])
        return _field("enum", field, f"{key} must be one of the following: {allowed}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in prop and value < prop["minimum"]:
            return _field("number_gte", field, f"Must be greater than or equal to {_fmt(prop['minimum'])}")
        if "maximum" in prop and value > prop["maximum"]:
            return _field("number_lte", field, f"Must be less than or equal to {_fmt(prop['maximum'])}")
    if isinstance(value, str) and len(value) < prop.get("minLength", 0):
        return _field(
            "string_gte", field, f"String length must be greater than or equal to {prop['minLength']}"
        )
    return None


def validate_input(
    inputs: Mapping[str, Mapping[str, Any]], required: Sequence[str], values: Mapping[str, Any]
) -> list[InvalidField]:
    """Check `values` against a Cog Input schema. Unknown keys pass (Cog sets no
    additionalProperties:false); a missing required key is reported on its parent, `input`."""
    problems = [_field("required", "input", f"{k} is required") for k in required if k not in values]
    for key, value in values.items():
        prop = inputs.get(key)
        if prop is not None:
            problem = _check_property(key, prop, value)
            if problem is not None:
                problems.append(problem)
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
