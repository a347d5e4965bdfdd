"""``supports_system_prompt`` (LiteLLM's option): the system message goes to the model's ``system_prompt``
input instead of into the prompt.

As in LiteLLM, the first system message is taken out of the conversation, its text sent as
``system_prompt``, and the prompt rendered from the rest by the model's prompt format. It is asked for
three ways:

- ``register_prompt_template(..., supports_system_prompt=True)`` or ``supports_system_prompt: true``
  beside a template in a proxy config entry (the template's formatter carries the option);
- ``supports_system_prompt=True`` as a call parameter, or as a config entry's default parameter.

Without a system message nothing is sent, so the model's own default ``system_prompt`` stays. It is an
input shaper (see ``patchwire.ShapeCall``) serving Replicate, whose models name this input
``system_prompt``; it runs after the ``messages`` shaper (a model that takes the conversation as a
``messages`` array gets it there, whole) and places the conversation itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

import patchwire
from patchwire import BadRequestError, Message, ModelFacts, ShapeCall, text_of

PARAM = "supports_system_prompt"
INPUT = "system_prompt"


def without_first_system(messages: Sequence[Message]) -> tuple[int | None, tuple[Message, ...]]:
    """The index of the first system message (None without one) and the other messages, in order."""
    for i, message in enumerate(messages):
        if message.role == "system":
            return i, (*messages[:i], *messages[i + 1 :])
    return None, tuple(messages)


def asks_for_it(formatter: object) -> bool:
    """Whether the formatter (or the one a registration wraps, as ``inner``) carries the option."""
    while formatter is not None:
        if getattr(formatter, PARAM, False) is True:
            return True
        formatter = getattr(formatter, "inner", None)
    return False


def shape_system_prompt_input(call: ShapeCall) -> None:
    asked = call.params.pop(PARAM, None)
    if asked is not None and not isinstance(asked, bool):
        raise BadRequestError(f"{PARAM} must be true or false, not {asked!r:.80}", param=PARAM)
    formatter = call.formatter
    if call.placed or formatter is None:
        return
    if not (asked if asked is not None else asks_for_it(formatter)):
        return
    index, rest = without_first_system(call.messages)
    if index is None:
        return
    if INPUT in call.params:
        raise BadRequestError(
            f"{PARAM} sends the system message as {INPUT}, and the call also has the parameter "
            f"{INPUT!r}; send the system text one way",
            param=INPUT,
        )
    call.inputs[INPUT] = text_of(call.messages[index], index, INPUT)
    call.inputs["prompt"] = formatter.render(rest)
    call.messages = rest
    call.placed = True


@attrs.frozen
class SystemPromptInput:
    name: str = "supports_system_prompt"
    #: After ``messages`` (200), before the built-in ``system_prompt`` shaper (300).
    order: int = 250
    providers: tuple[str, ...] = ("replicate",)

    def shape(self, call: ShapeCall) -> None:
        shape_system_prompt_input(call)

    def prepare(self, model: ModelFacts) -> Callable[[ShapeCall], None]:
        """Every call, where the formatter carries the option; else only calls that pass it."""
        if model.formatter is not None and asks_for_it(model.formatter):
            return shape_system_prompt_input
        return _when_asked


def _when_asked(call: ShapeCall) -> None:
    if PARAM in call.params:
        shape_system_prompt_input(call)


@patchwire.hookimpl
def patchwire_input_shapers() -> list[SystemPromptInput]:
    return [SystemPromptInput()]
