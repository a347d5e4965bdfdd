"""``supports_system_prompt`` (LiteLLM's option): the system message goes to the model's ``system_prompt``
input instead of into the prompt.

As in LiteLLM, the first system message is taken out of the conversation, its text sent as
``system_prompt``, and the prompt rendered from the rest. It is set three ways:

- ``register_prompt_template(..., supports_system_prompt=True)`` or ``supports_system_prompt: true``
  beside a template in a proxy config entry: the template's formatter leaves the message out itself;
- ``supports_system_prompt=True`` as a call parameter (or a config entry's default parameter): this
  mapper renders the prompt again without the message.

Without a system message nothing is sent, so the model's own default ``system_prompt`` stays. The
mapper serves Replicate, whose models name this input ``system_prompt``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

import patchwire
from patchwire import BadRequestError, MapCall, Message
from patchwire.plugins.formatters.base import text_of

PARAM = "supports_system_prompt"
INPUT = "system_prompt"


def without_first_system(messages: Sequence[Message]) -> tuple[Message | None, list[Message]]:
    """The first system message (None without one) and the other messages, in order."""
    for i, message in enumerate(messages):
        if message.role == "system":
            return message, [*messages[:i], *messages[i + 1 :]]
    return None, list(messages)


def leaves_system_out(formatter: object) -> bool:
    """Whether the formatter (or the one a registration wraps, as ``inner``) sets the option."""
    while formatter is not None:
        if getattr(formatter, PARAM, False):
            return True
        formatter = getattr(formatter, "inner", None)
    return False


def map_system_prompt(call: MapCall) -> None:
    asked = call.params.pop(PARAM, None)
    if asked is not None and not isinstance(asked, bool):
        raise BadRequestError(f"{PARAM} must be true or false, not {asked!r:.80}", param=PARAM)
    formatter = call.formatter
    built_in = leaves_system_out(formatter)  # the template's formatter already left it out
    if formatter is None or not (asked or built_in):
        return
    system, rest = without_first_system(call.messages)
    if system is None:
        return
    if not built_in:
        call.inputs["prompt"] = formatter.render(rest)
    call.inputs[INPUT] = text_of(system, list(call.messages).index(system), INPUT)


@attrs.frozen
class SystemPromptMapper:
    name: str = "system_prompt"
    #: After the parameter mappers (100, 200), before prompt_template (300) and the schema check (1000).
    order: int = 250
    providers: tuple[str, ...] = ("replicate",)

    def map(self, call: MapCall) -> None:
        map_system_prompt(call)


@patchwire.hookimpl
def patchwire_param_mappers() -> list[SystemPromptMapper]:
    return [SystemPromptMapper()]
