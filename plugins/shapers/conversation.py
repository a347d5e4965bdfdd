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

from collections.abc import Callable

from patchwire import BadRequestError, Message, ModelFacts, PromptFormatter, ShapeCall
from patchwire.plugins.shapers.base import plain_text, prepared_shaper
from patchwire.plugins.shapers.find import messages_input, system_input, takes_tools
from patchwire.plugins.shapers.message_fields import native_message


def prepare_messages(model: ModelFacts) -> Callable[[ShapeCall], None] | None:
    """For a model with a ``messages`` input (and no format the caller chose): the conversation goes there."""
    schema = model.schema
    if schema is None or model.format_chosen:
        return None
    name = messages_input(schema)
    if name is None:
        return None
    tools = takes_tools(schema)

    def shape_messages(call: ShapeCall) -> None:
        if call.placed:
            return
        if name in call.params:
            raise BadRequestError(
                f"{name} is built from the call's messages for {call.ref}; pass the conversation as "
                "messages, not as a parameter",
                param=name,
            )
        model = str(call.ref)
        conversation = [native_message(m, i, model, tools=tools) for i, m in enumerate(call.messages)]
        call.inputs[name] = conversation
        call.placed = True

    return shape_messages


def prepare_system_prompt(model: ModelFacts) -> Callable[[ShapeCall], None] | None:
    """For a model with a system input whose prompt no chat format renders: the system text goes there."""
    formatter = model.formatter
    schema = model.schema
    if schema is None or formatter is None:
        return None
    # Only where no chat format renders the prompt: a chat format puts the system text in the
    # prompt itself (and the model's template is bypassed), so a system input would say it twice.
    if not getattr(formatter, "uses_model_template", False):
        return None
    name = system_input(schema)
    if name is None:
        return None

    def shape_system_prompt(call: ShapeCall) -> None:
        if not call.placed:
            _system_to_input(call, name, formatter)

    return shape_system_prompt


def _system_to_input(call: ShapeCall, name: str, formatter: PromptFormatter) -> None:
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


MESSAGES = prepared_shaper("messages", 200, prepare_messages)
SYSTEM_PROMPT = prepared_shaper("system_prompt", 300, prepare_system_prompt)
