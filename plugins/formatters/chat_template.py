"""Any model's own Hugging Face chat template (Jinja), registered at run time or in the proxy config.

``patchwire.register_prompt_template(model=..., tokenizer_config={"chat_template": ..., "bos_token":
..., "eos_token": ...})`` and ``chat_template:`` in a proxy config entry reach the
``patchwire_template_formatter`` hook below, which compiles the template once and renders it for each
call as ``transformers``' ``apply_chat_template`` does: the messages as ``{"role", "content"}`` objects
(text parts joined; image parts refused), ``bos_token`` and ``eos_token`` as variables and
``add_generation_prompt=True``. Templates run in a sandbox with bounds (``sandbox.py``): one that
reaches for Python internals, calls ``raise_exception`` or exceeds the bounds is a ``BadRequestError``.

Needs ``jinja2`` (``pip install 'patchwire[templates]'``); without it registering a chat template
raises ``MissingDependencyError``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

import patchwire
from patchwire import BadRequestError, Message, MissingDependencyError, PatchwireError, PromptTemplate
from patchwire.plugins.formatters.base import text_of

if TYPE_CHECKING:
    import jinja2

    from patchwire.plugins.formatters.sandbox import ChatTemplateSandbox

log = logging.getLogger("patchwire")

_sandbox: ChatTemplateSandbox | None = None


def sandbox() -> ChatTemplateSandbox:
    """The one sandboxed environment every chat template compiles in (made on first use)."""
    global _sandbox
    if _sandbox is None:
        try:
            from patchwire.plugins.formatters.sandbox import ChatTemplateSandbox
        except ImportError:
            raise MissingDependencyError(
                "Jinja chat templates (tokenizer_config / chat_template) need jinja2, which is not "
                "installed; run: pip install 'patchwire[templates]'"
            ) from None
        _sandbox = ChatTemplateSandbox()
    return _sandbox


def compile_template(source: str, name: str) -> jinja2.Template:
    """The template compiled in the sandbox; a syntax error is a ``BadRequestError`` naming its line."""
    env = sandbox()
    from patchwire.plugins.formatters import sandbox as bounds

    if len(source) > bounds.MAX_SOURCE_CHARS:
        raise BadRequestError(
            f"the chat template of {name} is {len(source)} characters long; templates longer than "
            f"{bounds.MAX_SOURCE_CHARS} are refused",
            param="chat_template",
        )
    import jinja2

    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise BadRequestError(
            f"the chat template of {name} is not valid Jinja: {exc.message} (line {exc.lineno}); "
            "copy it exactly from the model's tokenizer_config.json",
            param="chat_template",
        ) from None


def message_object(message: Message, index: int, format_name: str) -> dict[str, Any]:
    """A message as a chat template sees it (only the keys that are set, as in an OpenAI request)."""
    obj: dict[str, Any] = {"role": message.role, "content": text_of(message, index, format_name)}
    if message.name is not None:
        obj["name"] = message.name
    if message.tool_calls is not None:
        obj["tool_calls"] = [dict(call) for call in message.tool_calls]
    if message.tool_call_id is not None:
        obj["tool_call_id"] = message.tool_call_id
    return obj


@attrs.frozen
class ChatTemplateFormatter:
    """Renders one model's Jinja chat template. ``supports_system_prompt`` asks the input shaper of that
    name to send the first system message as the model's ``system_prompt`` input."""

    name: str
    models: tuple[str, ...]
    template: jinja2.Template = attrs.field(repr=False)
    bos_token: str = ""
    eos_token: str = ""
    supports_system_prompt: bool = False

    def render(self, messages: Sequence[Message]) -> str:
        objects = [message_object(m, i, self.name) for i, m in enumerate(messages)]
        return render_template(self.template, self.name, objects, self.bos_token, self.eos_token)


def render_template(
    template: jinja2.Template, name: str, messages: list[dict[str, Any]], bos_token: str, eos_token: str
) -> str:
    """Render with Hugging Face's variables, every failure of the template a ``BadRequestError``."""
    from patchwire.plugins.formatters import sandbox as bounds

    def render() -> str:
        return str(
            template.render(
                messages=messages, bos_token=bos_token, eos_token=eos_token, add_generation_prompt=True
            )
        )

    try:
        return bounds.run_bounded(render)
    except PatchwireError:
        raise
    except bounds.TemplateRefused as exc:
        raise BadRequestError(
            f"the chat template of {name} refuses this conversation: {exc}", param="messages"
        ) from None
    except bounds.TooMuchWork as exc:
        raise BadRequestError(
            f"the chat template of {name} did too much work ({exc}); it is not a usable chat template",
            param="chat_template",
        ) from None
    except bounds.TemplateTooLarge as exc:
        raise BadRequestError(
            f"the chat template of {name} tried to build too much text ({exc}); shorten the "
            "conversation, or fix the template",
            param="chat_template",
        ) from None
    except Exception as exc:  # SecurityError, UndefinedError, TypeError, RecursionError, ... in the template
        log.debug("patchwire: chat template of %s failed: %r", name, exc)
        raise BadRequestError(
            f"the chat template of {name} failed on this conversation: {type(exc).__name__}: "
            f"{_short(exc)}; templates run in a sandbox without access to Python internals",
            param="chat_template",
        ) from None


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."


@patchwire.hookimpl
def patchwire_template_formatter(name: str, template: PromptTemplate) -> ChatTemplateFormatter | None:
    source = getattr(template, "chat_template", None)
    if source is None:
        return None  # LiteLLM's roles format: the custom formatter's
    return ChatTemplateFormatter(
        name=name,
        models=(),
        template=compile_template(source, name),
        bos_token=template.bos_token,
        eos_token=template.eos_token,
        supports_system_prompt=template.supports_system_prompt,
    )
