"""A model's pipeline: provider, parsed reference, formatter, mappers and wrappers, resolved once.

Resolving calls hooks, which costs microseconds; a call must not pay that, let alone a streamed token.
The router builds a pipeline on a model's first call and keeps it until the set of plugins changes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from patchwire import contract
from patchwire.errors import BadRequestError, ConfigError, PluginError
from patchwire.interfaces import (
    CallNext,
    CallResult,
    CallWrapper,
    InputShaper,
    ParamMapper,
    PromptFormatter,
    Provider,
    ProviderCall,
    keeps_deadline,
    provider_with_options,
    serves,
    uses_model_template,
    wants_prompt,
)
from patchwire.manager import PluginInfo, Plugins
from patchwire.shaping import InputPlan
from patchwire.types import InputSchema, ModelRef, PromptTemplate
from patchwire.validation import show

log = logging.getLogger("patchwire")

#: Input plans a pipeline keeps (one per input schema it has met).
MAX_PLANS = 16


@attrs.frozen
class BoundFormatter:
    """A formatter claimed for specific models (a registered custom template)."""

    name: str
    models: Sequence[str]
    inner: PromptFormatter

    @property
    def uses_model_template(self) -> bool:
        return uses_model_template(self.inner)

    def render(self, messages: Sequence[Any]) -> str:
        return self.inner.render(messages)


@attrs.frozen
class Pipeline:
    provider: Provider
    ref: ModelRef
    formatter: PromptFormatter | None
    #: The mappers that serve this provider, in the order they run.
    mappers: tuple[ParamMapper, ...]
    wrappers: tuple[CallWrapper, ...]
    #: The plugin the formatter came from (named when it breaks the contract at call time).
    formatter_plugin: PluginInfo | None = None
    #: The input shapers that serve this provider, in the order they run.
    shapers: tuple[InputShaper, ...] = ()
    #: The caller chose the formatter for this model (``format=``, a template), rather than a pattern.
    format_chosen: bool = False
    #: The provider's call wrapped in every wrapper, built once (not per call).
    call_complete: CallNext = attrs.field(init=False)
    call_stream: CallNext = attrs.field(init=False)
    #: The provider ends every call by its deadline itself (``ProviderExtras.keeps_deadline``).
    keeps_deadline: bool = attrs.field(init=False)
    #: The plugin each mapper and shaper came from, by ``id`` (named when one breaks the contract).
    origins: Mapping[int, PluginInfo] = attrs.field(factory=dict, eq=False, repr=False)
    #: The input plan per schema met (by ``id``: the plan holds its schema, so the id stays its own).
    _plans: dict[int, InputPlan] = attrs.field(init=False, factory=dict, eq=False, repr=False)
    #: The plan per api_base whose model schema is known (``keep_ready``): a call's one lookup.
    ready: dict[str | None, InputPlan] = attrs.field(init=False, factory=dict, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "call_complete", _chain(self.provider.complete, self.wrappers))
        object.__setattr__(self, "call_stream", _chain(self.provider.stream, self.wrappers))
        object.__setattr__(self, "keeps_deadline", keeps_deadline(self.provider))

    def plan(self, schema: InputSchema | None) -> InputPlan:
        """How calls to this model with ``schema`` become its inputs, built on the first such call."""
        plan = self._plans.get(id(schema))
        if plan is None or plan.facts.schema is not schema:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()  # schemas re-read over a long run: keep the latest few
            plan = self._plans[id(schema)] = InputPlan(self, schema)
        return plan

    def keep_ready(self, api_base: str | None, plan: InputPlan) -> None:
        """Remember ``plan`` for calls at ``api_base`` (a few bases at most: callers choose them)."""
        if len(self.ready) >= MAX_PLANS:
            self.ready.clear()
        self.ready[api_base] = plan

    def not_a_prompt(self, prompt: object) -> PluginError:
        """The error for a formatter that rendered something other than a string, naming its plugin."""
        assert self.formatter is not None
        return contract.bad_result(
            f"formatter {self.formatter.name!r}", self.formatter_plugin, "render", prompt, "the prompt string"
        )


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
    """Every provider by prefix; on a clash the higher-precedence plugin's wins. A provider without a
    usable ``name`` cannot be addressed and is left out (``patchwire plugins`` reports it)."""
    found: dict[str, Provider] = {}
    contributions, problems = contract.collect(plugins, "provider")
    contract.log_problems(problems, plugins.reported)
    # Contributions come highest precedence first: keep the first one seen for each name.
    for contribution in contributions:
        name = getattr(contribution.obj, "name", None)
        if isinstance(name, str) and name:
            found.setdefault(name, contract.usable(contribution, "provider"))
    return found


def configure_providers(
    providers: Mapping[str, Provider], options: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, Provider]:
    """``providers`` with ``options`` applied (``{"replicate": {"prefer_wait": 0}}``) through each
    provider's ``with_options``; options for a provider that is not loaded, or that it does not take,
    are a ``ConfigError``."""
    configured = dict(providers)
    for name, given in (options or {}).items():
        provider = providers.get(name)
        if provider is None:
            loaded = ", ".join(sorted(providers)) or "(none)"
            raise ConfigError(
                f"provider_options names provider {name!r}, which is not loaded; loaded providers: {loaded}",
                param="provider_options",
            )
        if not isinstance(given, Mapping) or not all(isinstance(k, str) for k in given):
            raise ConfigError(
                f"provider_options.{name} must be a mapping of option names to values",
                param=f"provider_options.{name}",
            )
        with_options = provider_with_options(provider)
        if with_options is None:
            raise ConfigError(
                f"provider {name!r} takes no options; remove provider_options.{name}",
                param=f"provider_options.{name}",
            )
        try:
            configured[name] = with_options(**given)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"provider_options.{name}: {exc}; see the provider's documentation for its options",
                param=f"provider_options.{name}",
            ) from None
    return configured


def split_model(model: Any, providers: Mapping[str, Provider]) -> tuple[Provider, str]:
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
            f"model {show(model)} has no known provider prefix; model strings look like "
            f"'<provider>/<model>', e.g. 'replicate/meta/meta-llama-3-8b-instruct'. "
            f"Available providers: {names}",
            param="model",
        )
    if not rest.strip():
        raise BadRequestError(
            f"model {show(model)} names the provider but no model; e.g. '{prefix}/owner/name'",
            param="model",
        )
    return provider, rest


def build_pipeline(
    plugins: Plugins,
    model: str,
    *,
    requested_format: str | None = None,
    template: PromptTemplate | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> Pipeline:
    """Resolve ``model`` to its pipeline. ``providers`` are the providers by name to choose from (a
    router passes its configured ones); by default, the plugins' own."""
    hook = plugins.hook
    provider, rest = split_model(model, providers if providers is not None else providers_by_name(plugins))
    ref = provider.parse_model(rest)
    formatter: PromptFormatter | None = None
    formatter_plugin: PluginInfo | None = None
    if wants_prompt(provider):
        if template is not None:
            formatter = template_formatter(plugins, f"custom:{ref.slug}", template)
        else:
            contributions, problems = contract.collect(plugins, "formatter")
            contract.log_problems(problems, plugins.reported)
            formatters = [contract.usable(c, "formatter") for c in contributions]
            formatter = hook.patchwire_choose_formatter(
                ref=ref, requested=requested_format, formatters=formatters
            )
            if formatter is None:
                raise BadRequestError(
                    f"no prompt formatter claims {ref} and no fallback formatter is loaded; pass "
                    "format='llama3' (or another name `patchwire plugins` lists)",
                    param="format",
                )
            formatter_plugin = next(
                (c.plugin for c, f in zip(contributions, formatters, strict=True) if f is formatter), None
            )
            formatter = _checked(formatter, formatter_plugin, "patchwire_choose_formatter")
    # Collected highest precedence first; ties in `order` must run built-ins first (the later
    # mapper wins), so reverse before the stable sort.
    origins: dict[int, PluginInfo] = {}
    contributions, problems = contract.collect(plugins, "mapper")
    contract.log_problems(problems, plugins.reported)
    mappers = [_usable(c, "mapper", origins) for c in reversed(contributions)]
    mappers = sorted((m for m in mappers if serves(m, provider.name)), key=lambda m: m.order)
    # Shapers are ordered like the mappers (ties: built-ins first).
    contributions, problems = contract.collect(plugins, "shaper")
    contract.log_problems(problems, plugins.reported)
    shapers = [_usable(c, "shaper", origins) for c in reversed(contributions)]
    shapers = sorted((s for s in shapers if serves(s, provider.name)), key=lambda s: s.order)
    chosen = template is not None or requested_format is not None or isinstance(formatter, BoundFormatter)
    contributions, problems = contract.collect(plugins, "wrapper")
    contract.log_problems(problems, plugins.reported)
    wrappers = tuple(contract.usable(c, "wrapper") for c in contributions)
    log.debug(
        "patchwire: pipeline for %s: provider=%s formatter=%s shapers=%s mappers=%s wrappers=%s",
        model,
        provider.name,
        formatter.name if formatter else None,
        [s.name for s in shapers],
        [m.name for m in mappers],
        [w.name for w in wrappers],
    )
    return Pipeline(
        provider, ref, formatter, tuple(mappers), wrappers, formatter_plugin, tuple(shapers), chosen, origins
    )


def _usable(contribution: contract.Contribution, kind: str, origins: dict[int, PluginInfo]) -> Any:
    """``contract.usable``, noting which plugin the object came from."""
    obj = contract.usable(contribution, kind)
    origins[id(obj)] = contribution.plugin
    return obj


def _checked(formatter: Any, plugin: PluginInfo | None, hook: str) -> PromptFormatter:
    """A formatter a first-result hook answered with, as a stand-in if it breaks the contract."""
    if isinstance(formatter, contract.Usable):
        return formatter  # already checked where it was collected
    problems = tuple(contract.problems_of("formatter", formatter))
    if not problems:
        return formatter  # type: ignore[no-any-return]
    info = plugin or PluginInfo(f"(the {hook} hook)", "(unknown)", "", "run-time", ())
    contribution = contract.Contribution(formatter, info, problems)
    for problem in problems:
        log.warning("patchwire: %s from %s %s", contract.subject("formatter", formatter), hook, problem)
    return contract.usable(contribution, "formatter")  # type: ignore[no-any-return]


def template_formatter(plugins: Plugins, name: str, template: PromptTemplate) -> PromptFormatter:
    formatter: PromptFormatter | None = plugins.hook.patchwire_template_formatter(
        name=name, template=template
    )
    if formatter is None:
        raise BadRequestError(
            "custom prompt templates need the 'custom' formatter plugin, which is not loaded "
            "(see `patchwire plugins`)"
        )
    return _checked(formatter, None, "patchwire_template_formatter")
