"""The one place that knows the OpenAI wire shape: dicts and JSON in, patchwire types out, and back.

One cattrs converter (orjson preconf) does the work. Inputs a user can get wrong (messages) go through a
hand-written structure hook so every mistake is a ``BadRequestError`` that names the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import cattrs
import orjson
from cattrs.gen import make_dict_unstructure_fn, override
from cattrs.preconf.orjson import make_converter

from patchwire.errors import BadRequestError
from patchwire.types import (
    ROLES,
    ChatChunk,
    ChatResponse,
    Choice,
    ChunkChoice,
    ContentPart,
    Delta,
    Message,
    TextCompletion,
    Usage,
)
from patchwire.validation import show

_T = TypeVar("_T")

converter = make_converter()


def _omit_when_unset(cls: type, *fields: str) -> None:
    """Leave these fields out of the JSON while they hold their default: OpenAI omits them, and a
    round trip must not add keys."""
    overrides: dict[str, Any] = {name: override(omit_if_default=True) for name in fields}
    hook: Any = make_dict_unstructure_fn(cls, converter, **overrides)
    converter.register_unstructure_hook(cls, hook)


_omit_when_unset(Message, "name", "tool_calls", "tool_call_id", "reasoning_content")
_omit_when_unset(ContentPart, "text", "image_url")
_omit_when_unset(Delta, "role", "content", "reasoning_content")
_omit_when_unset(ChatChunk, "usage")
_omit_when_unset(TextCompletion, "usage")


def _message_where(index: int | None) -> str:
    return "message" if index is None else f"messages[{index}]"


_ROLE_SET = frozenset(ROLES)


def structure_message(raw: Any, index: int | None = None) -> Message:
    """One OpenAI message dict (or a ``Message``) as a ``Message``; a ``BadRequestError`` says what is off."""
    if isinstance(raw, Message):
        return raw
    where = _message_where(index)
    if not isinstance(raw, Mapping):
        raise BadRequestError(
            f"{where} must be an object like {{'role': 'user', 'content': 'Hi'}}, not {type(raw).__name__}",
            param=where,
        )
    role = raw.get("role")
    if role is None:
        raise BadRequestError(
            f"{where} has no 'role'; give one of: {', '.join(ROLES)}", param=f"{where}.role"
        )
    if role not in ROLES:
        raise BadRequestError(
            f"{where}.role is {show(role)}; accepted roles are: {', '.join(ROLES)}",
            param=f"{where}.role",
        )
    content = _structure_content(raw.get("content"), where, role, has_tools=bool(raw.get("tool_calls")))
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise BadRequestError(f"{where}.name must be a string", param=f"{where}.name")
    tool_calls = raw.get("tool_calls")
    if tool_calls is not None:
        if not isinstance(tool_calls, list | tuple) or not all(isinstance(c, Mapping) for c in tool_calls):
            raise BadRequestError(
                f"{where}.tool_calls must be a list of objects", param=f"{where}.tool_calls"
            )
        tool_calls = tuple(tool_calls)
    tool_call_id = raw.get("tool_call_id")
    if tool_call_id is not None and not isinstance(tool_call_id, str):
        raise BadRequestError(f"{where}.tool_call_id must be a string", param=f"{where}.tool_call_id")
    return Message(role=role, content=content, name=name, tool_calls=tool_calls, tool_call_id=tool_call_id)


def _structure_content(
    content: Any, where: str, role: str, *, has_tools: bool
) -> str | tuple[ContentPart, ...] | None:
    if isinstance(content, str):
        return content
    if content is None:
        if role == "assistant" and has_tools:
            return None
        raise BadRequestError(
            f"{where}.content is missing; give a string or a list of {{'type': 'text', 'text': ...}} parts",
            param=f"{where}.content",
        )
    if isinstance(content, list | tuple):
        return tuple(_structure_part(part, f"{where}.content[{i}]") for i, part in enumerate(content))
    raise BadRequestError(
        f"{where}.content must be a string or a list of {{'type': 'text', 'text': ...}} parts, "
        f"not {type(content).__name__}",
        param=f"{where}.content",
    )


def _structure_part(part: Any, where: str) -> ContentPart:
    if isinstance(part, ContentPart):
        return part
    if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
        raise BadRequestError(
            f"{where} must be an object with a 'type', like {{'type': 'text', 'text': 'Hi'}}",
            param=where,
        )
    kind = part["type"]
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise BadRequestError(f"{where}.text must be a string", param=f"{where}.text")
        return ContentPart(type="text", text=text)
    image_url = part.get("image_url")
    return ContentPart(type=kind, image_url=image_url if isinstance(image_url, Mapping) else None)


def structure_messages(raw: Any) -> tuple[Message, ...]:
    """The ``messages`` argument as Messages; empty or malformed lists raise ``BadRequestError``."""
    if raw.__class__ is not list and (isinstance(raw, str | bytes) or not isinstance(raw, Iterable)):
        raise BadRequestError(
            "messages must be a list of {'role': ..., 'content': ...} objects", param="messages"
        )
    structured = []
    for i, raw_message in enumerate(raw):
        # The common case, {"role": ..., "content": "..."}, costs one constructor call.
        if raw_message.__class__ is dict and len(raw_message) == 2:
            role = raw_message.get("role")
            content = raw_message.get("content")
            if role in _ROLE_SET and content.__class__ is str:
                structured.append(Message(role, content))
                continue
        structured.append(structure_message(raw_message, i))
    messages = tuple(structured)
    if not messages:
        raise BadRequestError("messages is empty; give at least one message", param="messages")
    return messages


converter.register_structure_hook(Message, lambda raw, _: structure_message(raw))
converter.register_structure_hook(ContentPart, lambda raw, _: _structure_part(raw, "content part"))


def unstructure(obj: Any) -> Any:
    """A patchwire type as plain OpenAI-shaped Python data."""
    return converter.unstructure(obj)


def dumps(obj: Any) -> bytes:
    """A patchwire type (or plain data) as OpenAI-shaped JSON bytes."""
    return orjson.dumps(converter.unstructure(obj))


def _structure_object(data: Mapping[str, Any] | bytes | str, cls: type[_T], object_name: str) -> _T:
    """An OpenAI object (dict or JSON) as ``cls``; one that does not fit is a ``BadRequestError``
    naming ``object_name``."""
    if isinstance(data, bytes | str):
        data = orjson.loads(data)
    try:
        return converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        raise BadRequestError(f"not a {object_name} object: {exc}") from exc


def structure_response(data: Mapping[str, Any] | bytes | str) -> ChatResponse:
    """An OpenAI ``chat.completion`` (dict or JSON) as a ``ChatResponse``."""
    return _structure_object(data, ChatResponse, "chat.completion")


def structure_chunk(data: Mapping[str, Any] | bytes | str) -> ChatChunk:
    """An OpenAI ``chat.completion.chunk`` (dict or JSON) as a ``ChatChunk``."""
    return _structure_object(data, ChatChunk, "chat.completion.chunk")


def chunk_json(chunk: ChatChunk, model: str | None = None) -> bytes:
    """A chunk as JSON, built by hand: the proxy writes one per token, so this skips the converter.

    It must equal ``dumps(chunk)``; a test holds the two to that. ``model`` replaces the chunk's model
    name (the proxy answers with the name the client asked for).
    """
    choices = [
        {
            "index": c.index,
            "delta": _delta_dict(c.delta),
            "finish_reason": c.finish_reason,
            "logprobs": c.logprobs,
        }
        for c in chunk.choices
    ]
    body: dict[str, Any] = {
        "id": chunk.id,
        "created": chunk.created,
        "model": chunk.model if model is None else model,
        "choices": choices,
        "object": chunk.object,
        "system_fingerprint": chunk.system_fingerprint,
    }
    if chunk.usage is not None:
        body["usage"] = converter.unstructure(chunk.usage)
    return orjson.dumps(body)


def _delta_dict(delta: Delta) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if delta.role is not None:
        out["role"] = delta.role
    if delta.content is not None:
        out["content"] = delta.content
    if delta.reasoning_content is not None:
        out["reasoning_content"] = delta.reasoning_content
    return out


__all__ = [
    "ChatChunk",
    "ChatResponse",
    "Choice",
    "ChunkChoice",
    "Usage",
    "chunk_json",
    "converter",
    "dumps",
    "structure_chunk",
    "structure_message",
    "structure_messages",
    "structure_response",
    "unstructure",
]
