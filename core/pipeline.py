"""A model's pipeline: provider, parsed reference, formatter, mappers and wrappers, resolved once.

Resolving calls hooks, which costs microseconds; a call must not pay that, let alone a streamed token.
The router builds a pipeline on a model's first call and keeps it until the set of plugins changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs

from patchwire.errors import BadRequestError
from patchwire.interfaces import (
    CallNext,
    CallResult,
    CallWrapper,
    InputShaper,
    ParamMapper,
    PromptFormatter,
    Provider,
    ProviderCall,
)
from patchwire.manager import Plugins
from patchwire.types import ModelRef, PromptTemplate

log = logging.getLogger("patchwire")


@attrs.frozen
class BoundFormatter:
    """A formatter claimed for specific models (a registered custom template)."""

    name: str
    models: Sequence[str]
    inner: PromptFormatter

    def render(self, messages: Sequence[Any]) -> str:
        return self.inner.render(messages)


@attrs.frozen
class Pipeline:
    provider: Provider
    ref: ModelRef
    formatter: PromptFormatter | None
    mappers: tuple[ParamMapper, ...]
    wrappers: tuple[CallWrapper, ...]
    shapers: tuple[InputShaper, ...] = ()
    #: The caller chose the formatter for this model (``format=``, a template), rather than a pattern.
    format_chosen: bool = False
    #: The provider's call wrapped in every wrapper, built once (not per call).
    call_complete: CallNext = attrs.field(init=False)
    call_stream: CallNext = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        for field, method in (("call_complete", "complete"), ("call_stream", "stream")):
            base = getattr(self.provider, method, None) or _unsupported(self.provider, method)
            object.__setattr__(self, field, _chain(base, self.wrappers))


def _unsupported(provider: Provider, method: str) -> CallNext:
    async def refuse(call: ProviderCall) -> CallResult:
        raise BadRequestError(f"provider {provider.name!r} does not support {method} calls")

    return refuse


def _chain(base: CallNext, wrappers: Sequence[CallWrapper]) -> CallNext:
    invoke = base
    for wrapper in reversed(wrappers):  # the highest-precedence wrapper ends up outermost
        invoke = _wrap(wrapper, invoke)
    return invoke


def _wrap(wrapper: CallWrapper, call_next: CallNext) -> CallNext:
    async def wrapped(call: ProviderCall) -> CallResult:
        result: CallResult = await wrapper.wrap(call, call_next)
        return result

    return wrapped


def providers_by_name(plugins: Plugins) -> dict[str, Provider]:
    """Every provider by prefix; on a clash the higher-precedence plugin's wins."""
    found: dict[str, Provider] = {}
    # Results come highest precedence first: keep the first one seen for each name.
    for provider in plugins.collect(plugins.hook.patchwire_providers()):
        found.setdefault(provider.name, provider)
    return found


def split_model(model: Any, providers: dict[str, Provider]) -> tuple[Provider, str]:
    """``replicate/owner/name`` as (provider, ``owner/name``); bad strings raise BadRequestError."""
    if not isinstance(model, str) or not model.strip():
        raise BadRequestError(
            "model is empty; give a model string like 'replicate/meta/meta-llama-3-8b-instruct'",
            param="model",
        )
    prefix, sep, rest = model.partition("/")
    provider = providers.get(prefix)
    if provider is None or not sep:
        names = ", ".join(sorted(providers)) or "(none loaded: see `patchwire plugins`)"
        raise BadRequestError(
            f"model {model!r} has no known provider prefix; model strings look like "
            f"'<provider>/<model>', e.g. 'replicate/meta/meta-llama-3-8b-instruct'. "
            f"Available providers: {names}",
            param="model",
        )
    if not rest.strip():
        raise BadRequestError(
            f"model {model!r} names the provider but no model; e.g. '{prefix}/owner/name'",
            param="model",
        )
    return provider, rest


def build_pipeline(
    plugins: Plugins,
    model: str,
    *,
    requested_format: str | None = None,
    template: PromptTemplate | None = None,
) -> Pipeline:
    hook = plugins.hook
    provider, rest = split_model(model, providers_by_name(plugins))
    ref = provider.parse_model(rest)
    formatter: PromptFormatter | None = None
    if getattr(provider, "wants_prompt", True):
        if template is not None:
            formatter = template_formatter(plugins, f"custom:{ref.slug}", template)
        else:
            formatters = plugins.collect(hook.patchwire_formatters())
            formatter = hook.patchwire_choose_formatter(
                ref=ref, requested=requested_format, formatters=formatters
            )
            if formatter is None:
                raise BadRequestError(
                    f"no prompt formatter claims {ref} and no fallback formatter is loaded; pass "
                    "format='llama3' (or another name `patchwire plugins` lists)",
                    param="format",
                )
    # Collected highest precedence first; ties in `order` must run built-ins first (the later
    # mapper wins), so reverse before the stable sort.
    mappers = sorted(reversed(plugins.collect(hook.patchwire_param_mappers())), key=lambda m: m.order)
    wrappers = tuple(plugins.collect(hook.patchwire_call_wrappers()))
    # Ordered like the mappers (ties: built-ins first).
    shapers = sorted(reversed(plugins.collect(hook.patchwire_input_shapers())), key=lambda s: s.order)
    chosen = template is not None or requested_format is not None or isinstance(formatter, BoundFormatter)
    log.debug(
        "patchwire: pipeline for %s: provider=%s formatter=%s shapers=%s mappers=%s wrappers=%s",
        model,
        provider.name,
        formatter.name if formatter else None,
        [s.name for s in shapers],
        [m.name for m in mappers],
        [w.name for w in wrappers],
    )
    return Pipeline(provider, ref, formatter, tuple(mappers), wrappers, tuple(shapers), chosen)


def template_formatter(plugins: Plugins, name: str, template: PromptTemplate) -> PromptFormatter:
    formatter: PromptFormatter | None = plugins.hook.patchwire_template_formatter(
        name=name, template=template
    )
    if formatter is None:
        raise BadRequestError(
            "custom prompt templates need the 'custom' formatter plugin, which is not loaded "
            "(see `patchwire plugins`)"
        )
    return formatter
