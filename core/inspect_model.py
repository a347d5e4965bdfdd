"""``patchwire inspect MODEL``: a model's inputs, and the exact request a sample conversation sends.

The inputs come from the model's schema (fetched as a call would fetch it); the request is built by the
same shapers and mappers a call runs, and shown as the provider would send it, with the key redacted.
So a user sees where each message, image and parameter goes without reading code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from patchwire.errors import BadRequestError, PatchwireError
from patchwire.interfaces import provider_preview
from patchwire.router import Router
from patchwire.types import InputSchema, InputSpec

SAMPLE_SYSTEM = "You are a helpful assistant."
SAMPLE_USER = "Hello! What can you do?"
SAMPLE_IMAGE_QUESTION = "What is in this picture?"
SAMPLE_IMAGE = "https://example.com/sample.jpg"


def add_inspect_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "inspect",
        help="show a model's inputs and the request a sample conversation would send (key redacted)",
        description=(__doc__ or "").split("\n\n")[0],
    )
    p.add_argument("model", help="a model string, e.g. replicate/anthropic/claude-4-sonnet")
    p.add_argument("--api-base", help="the provider's API base (default: the provider's own)")
    p.add_argument("--api-key", help="the API key (default: the provider's environment variable)")
    p.add_argument("--system", default=SAMPLE_SYSTEM, help="the sample system message ('' for none)")
    p.add_argument("--user", default=None, help="the sample user message")
    p.add_argument(
        "--image",
        action="append",
        default=None,
        help="an image URL to attach (repeatable); default: one sample image if the model takes images",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a call parameter, VALUE read as JSON where it parses (e.g. max_tokens=100)",
    )
    p.add_argument("--stream", action="store_true", help="show the streaming request")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_inspect)


def _params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"patchwire inspect: --param takes NAME=VALUE, not {pair!r}")
        try:
            params[name] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            params[name] = raw
    return params


def _messages(system: str, user: str | None, images: list[str]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if user is None:
        user = SAMPLE_IMAGE_QUESTION if images else SAMPLE_USER
    if system:
        messages.append({"role": "system", "content": system})
    if images:
        parts: list[dict[str, Any]] = [{"type": "text", "text": user}]
        parts += [{"type": "image_url", "image_url": {"url": url}} for url in images]
        messages.append({"role": "user", "content": parts})
    else:
        messages.append({"role": "user", "content": user})
    return messages


async def inspect(args: argparse.Namespace) -> dict[str, Any]:
    params = _params(args.param)
    common: dict[str, Any] = {"api_key": args.api_key, "api_base": args.api_base, "stream": args.stream}
    async with Router() as router:
        if args.image is not None:
            messages = _messages(args.system, args.user, args.image)
            pipeline, schema, call = await router.prepare(args.model, messages, **common, **params)
        else:
            # With a sample image where the model has a place for one; without, where it has none.
            try:
                messages = _messages(args.system, args.user, [SAMPLE_IMAGE])
                pipeline, schema, call = await router.prepare(args.model, messages, **common, **params)
            except BadRequestError:
                messages = _messages(args.system, args.user, [])
                pipeline, schema, call = await router.prepare(args.model, messages, **common, **params)
        preview = provider_preview(pipeline.provider)
        requests = preview(call) if preview is not None else [{"inputs": call.inputs}]
    return {
        "model": args.model,
        "formatter": pipeline.formatter.name if pipeline.formatter is not None else None,
        "inputs": [_spec_dict(spec, schema) for spec in schema.inputs.values()] if schema else None,
        "messages": messages,
        "params": params,
        "requests": requests,
    }


def _spec_dict(spec: InputSpec, schema: InputSchema) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name, "type": spec.type}
    if spec.type == "array" and spec.item_type:
        out["type"] = f"array of {spec.item_type}" + (f" ({spec.item_format})" if spec.item_format else "")
    elif spec.format:
        out["type"] = f"{spec.type} ({spec.format})"
    if spec.name in schema.required:
        out["required"] = True
    if spec.default is not None:
        out["default"] = spec.default
    if spec.minimum is not None or spec.maximum is not None:
        out["range"] = [spec.minimum, spec.maximum]
    if spec.enum is not None:
        out["values"] = list(spec.enum)
    return out


def _show(value: Any, width: int = 60) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= width else text[: width - 1] + "…"


def _print(report: dict[str, Any]) -> None:
    out = sys.stdout.write
    out(f"{report['model']}\n\n")
    inputs = report["inputs"]
    if inputs is None:
        out("Inputs: the model's schema could not be read; calls send a formatted prompt.\n")
    else:
        out("Inputs (from the model's schema):\n")
        for spec in inputs:
            notes = []
            if spec.get("required"):
                notes.append("required")
            if "default" in spec:
                notes.append(f"default {_show(spec['default'], 40)}")
            if "range" in spec:
                low, high = spec["range"]
                notes.append(f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}")
            if "values" in spec:
                notes.append("one of " + ", ".join(map(str, spec["values"])))
            out(f"  {spec['name']:<24} {spec['type'] or '?':<22} {'; '.join(notes)}\n")
    out(f"\nPrompt format if a prompt is rendered: {report['formatter'] or '-'}\n")
    out("\nSample conversation:\n")
    for message in report["messages"]:
        out(f"  {message['role']}: {_show(message['content'], 100)}\n")
    for name, value in report["params"].items():
        out(f"  {name}={_show(value)}\n")
    out("\nWhat patchwire sends:\n")
    for request in report["requests"]:
        if "method" not in request:
            out(orjson.dumps(request, option=orjson.OPT_INDENT_2).decode() + "\n")
            continue
        out(f"{request['method']} {request['url']}\n")
        for name, value in request["headers"].items():
            out(f"{name}: {value}\n")
        body = request["body"]
        out(
            "\n"
            + (body if isinstance(body, str) else orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        )
        out("\n\n")


def _cmd_inspect(args: argparse.Namespace) -> int:
    try:
        report = asyncio.run(inspect(args))
    except PatchwireError as exc:
        sys.stderr.write(f"patchwire inspect: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(report)
    return 0
