"""Where the text of a conversation goes, by the model's schema.

- ``messages`` (an array input): the conversation goes there as it is, each message as OpenAI's
  ``{"role", "content"}`` with its text parts joined, plus its ``name`` and, for a model that takes
  tools, its tool calls (see ``message_fields``); no prompt is rendered and neither ``prompt`` nor
  ``system_prompt`` is sent.
- ``system_prompt`` / ``system_instruction`` on a model whose prompt no chat format renders (the
  ``default`` format): the system messages go there, joined by a blank line, and the rest goes to
  ``prompt`` through the default format (a lone user message exactly as written).

Everything else (a chat format chosen for the model, a model with only ``prompt``) is left to the
prompt formatter, which keeps every message, system text included.
"""

from __future__ import annotations

from patchwire import BadRequestError, Message, ShapeCall
from patchwire.plugins.shapers.base import Shaper, plain_text
from patchwire.plugins.shapers.find import messages_input, system_input, takes_tools
from patchwire.plugins.shapers.message_fields import native_message


def shape_messages(call: ShapeCall) -> None:
    if call.placed or call.schema is None or call.format_chosen:
        return
    name = messages_input(call.schema)
    if name is None:
        return
    if name in call.params:
        raise BadRequestError(
            f"{name} is built from the call's messages for {call.ref}; pass the conversation as "
            "messages, not as a parameter",
            param=name,
        )
    model = str(call.ref)
    tools = takes_tools(call.schema)
    conversation = [native_message(m, i, model, tools=tools) for i, m in enumerate(call.messages)]
    call.inputs[name] = conversation
    call.placed = True


def shape_system_prompt(call: ShapeCall) -> None:
    formatter = call.formatter
    if call.placed or call.schema is None or formatter is None:
        return
    # Only where no chat format renders the prompt: a chat format puts the system text in the
    # prompt itself (and the model's template is bypassed), so a system input would say it twice.
    if not getattr(formatter, "uses_model_template", False):
        return
    name = system_input(call.schema)
    if name is None:
        return
    system: list[tuple[int, Message]] = []
    rest: list[Message] = []
    for i, message in enumerate(call.messages):
        if message.role == "system":
            system.append((i, message))
        else:
            rest.append(message)
    if not system or not rest:
        return  # nothing to move, or nothing would be left for the prompt: the prompt keeps it all
    if name in call.params:
        raise BadRequestError(
            f"{call.ref} got a system message and the parameter {name!r}; send the system text one "
            "way (as a system message)",
            param=name,
        )
    model = str(call.ref)
    call.inputs[name] = "\n\n".join(plain_text(m, i, model) for i, m in system)
    call.messages = tuple(rest)
    call.inputs["prompt"] = formatter.render(call.messages)
    call.placed = True


MESSAGES = Shaper(name="messages", order=200, shape=shape_messages)
SYSTEM_PROMPT = Shaper(name="system_prompt", order=300, shape=shape_system_prompt)
