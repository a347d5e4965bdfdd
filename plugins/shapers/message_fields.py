"""One message as a model's native ``messages`` input takes it: OpenAI's shape, and only the fields
the model can take, each checked the way OpenAI's API checks it (a model that relays the conversation
to OpenAI fails the prediction on anything else).

- ``role`` and ``content`` (its text parts joined), always.
- ``name`` on a system, user or assistant message: 1 to 64 letters, digits, ``_`` or ``-``.
- ``tool_calls`` on an assistant message and ``tool_call_id`` on a tool message, only to a model that
  takes ``tools``: each call is rebuilt from OpenAI's keys (``id``, ``type: "function"``,
  ``function.name``, ``function.arguments`` as a JSON string), at most ``MAX_TOOL_CALLS`` a message.
  A model that takes no tools cannot have made the calls: such a conversation is refused, not sent
  with the calls cut out of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from patchwire import BadRequestError, Message
from patchwire.plugins.shapers.base import plain_text

#: OpenAI's rule for a participant's and a function's name.
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: A tool call's id: what OpenAI, Anthropic, Mistral and vLLM hand out, bounded.
CALL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,256}")
MAX_TOOL_CALLS = 128
_NAMED_ROLES = ("system", "user", "assistant")


def native_message(message: Message, index: int, model: str, *, tools: bool) -> dict[str, Any]:
    """``message`` as an OpenAI message object for ``model``; ``tools``: whether it takes tools."""
    where = f"messages[{index}]"
    out: dict[str, Any] = {"role": message.role, "content": plain_text(message, index, model)}
    if message.name is not None:
        if message.role not in _NAMED_ROLES:
            raise BadRequestError(
                f"{where} is a {message.role} message, which takes no name", param=f"{where}.name"
            )
        if not NAME.fullmatch(message.name):
            raise BadRequestError(
                f"{where}.name must be 1 to 64 letters, digits, '_' or '-' (OpenAI's rule), not "
                f"{message.name[:80]!r}",
                param=f"{where}.name",
            )
        out["name"] = message.name
    calls = message.tool_calls
    if calls is None and message.tool_call_id is None and message.role != "tool":
        return out
    if not tools:
        raise BadRequestError(
            f"{where} is part of a tool call, and {model} takes no tools (its inputs have no 'tools'); "
            "send the tool's result as text in a user message, or call a model that takes tools",
            param=where,
        )
    if calls is not None:
        if message.role != "assistant":
            raise BadRequestError(
                f"{where}: only an assistant message has tool_calls", param=f"{where}.tool_calls"
            )
        if len(calls) > MAX_TOOL_CALLS:
            raise BadRequestError(
                f"{where} has {len(calls)} tool calls; at most {MAX_TOOL_CALLS}", param=f"{where}.tool_calls"
            )
        out["tool_calls"] = [_tool_call(call, f"{where}.tool_calls[{i}]") for i, call in enumerate(calls)]
    call_id = message.tool_call_id
    if message.role == "tool":
        if call_id is None or not CALL_ID.fullmatch(call_id):
            raise BadRequestError(
                f"{where} (a tool result) needs tool_call_id: the id of the call it answers (1 to 256 "
                "letters, digits, '_', '-', '.' or ':')",
                param=f"{where}.tool_call_id",
            )
        out["tool_call_id"] = call_id
    elif call_id is not None:
        raise BadRequestError(
            f"{where}: only a tool message has a tool_call_id", param=f"{where}.tool_call_id"
        )
    return out


def _tool_call(call: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id = call.get("id")
    function = call.get("function")
    name = function.get("name") if isinstance(function, Mapping) else None
    arguments = function.get("arguments") if isinstance(function, Mapping) else None
    if (
        not (isinstance(call_id, str) and CALL_ID.fullmatch(call_id))
        or call.get("type", "function") != "function"
        or not (isinstance(name, str) and NAME.fullmatch(name))
        or not isinstance(arguments, str)
    ):
        raise BadRequestError(
            f"{where} must be {{'id': ..., 'type': 'function', 'function': {{'name': ..., 'arguments': "
            "'<JSON text>'}}}, as the model wrote it",
            param=where,
        )
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
