"""Custom prompt templates in LiteLLM's format, registered at run time.

``patchwire.register_prompt_template(model=..., roles=..., ...)`` and templates in the proxy config
reach the ``patchwire_template_formatter`` hook below, which renders them like LiteLLM's
``custom_prompt``::

    bos_token + initial_prompt_value
    for each message:
        bos_token                      if it is a system or user message following an assistant one
        pre_message + text + post_message   (of its role; nothing for a role the template lacks)
        eos_token                      if it is an assistant message
    final_prompt_value

Deliberate differences from LiteLLM: LiteLLM re-opens with ``bos_token`` only before ``system`` and
``human`` messages, so a ``user`` message after an answer never gets one, against its own comment
("a bos token is at the start of a system / human message"); here it does. LiteLLM silently drops
image parts and drops the pre/post strings of a message whose content is None; here an image part is
a ``BadRequestError`` and None content is an empty text.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

import patchwire
from patchwire import Message, PromptTemplate
from patchwire.plugins.formatters.base import Formatter, texts

OPENS_TURN = ("system", "user")


@attrs.frozen
class TemplateRenderer:
    template: PromptTemplate
    format_name: str

    def __call__(self, messages: Sequence[Message]) -> str:
        t = self.template
        out = [t.bos_token, t.initial_prompt_value]
        bos_open = True
        for role, text in texts(messages, self.format_name):
            if role in OPENS_TURN and not bos_open:
                out.append(t.bos_token)
                bos_open = True
            spec = t.roles.get(role)
            if spec is None:
                out.append(text)
            else:
                out += (spec.pre_message, text, spec.post_message)
            if role == "assistant":
                out.append(t.eos_token)
                bos_open = False
        out.append(t.final_prompt_value)
        return "".join(out)


@patchwire.hookimpl
def patchwire_template_formatter(name: str, template: PromptTemplate) -> Formatter | None:
    if getattr(template, "chat_template", None) is not None:
        return None  # a Jinja chat template: the chat_template formatter's
    return Formatter(
        name=name,
        models=(),
        render=TemplateRenderer(template, name),
        supports_system_prompt=template.supports_system_prompt,
    )
