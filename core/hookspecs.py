"""The hook specification: with ``patchwire.interfaces``, the whole contract between the core and plugins.

A plugin is a module (or object) with functions marked ``@patchwire.hookimpl``, named after the hooks
below, found through the entry-point group ``patchwire`` (``[project.entry-points.patchwire]`` in its
``pyproject.toml``). Hooks are plain functions returning objects; the async work lives in the objects
they return (pluggy has no async hooks), whose attributes ``patchwire.interfaces`` declares. The core
calls these hooks when it builds a model's pipeline, which it does once per model and caches, never per
call or token. Each object a collecting hook returns is checked against its Protocol then: a malformed
one is reported (log, ``patchwire plugins``) with the plugin's name and distribution, and a call that
needs what it lacks raises ``patchwire.PluginError``.

Precedence: run-time registrations beat third-party plugins, which beat built-ins. pluggy calls the
last-registered implementation first, and the core registers in the order built-in, third-party,
run-time, so "first result" and "first in a collected list" both mean "highest precedence".
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import pluggy

from patchwire.interfaces import CallWrapper, InputShaper, ParamMapper, PromptFormatter, Provider
from patchwire.types import ModelRef, PromptTemplate

PROJECT = "patchwire"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def patchwire_providers() -> Sequence[Provider]:
    """Collect: return the providers this plugin adds (each serves the model prefix ``provider.name``).

    When two plugins serve the same prefix, the one with higher precedence wins.
    """
    raise NotImplementedError


@hookspec
def patchwire_formatters() -> Sequence[PromptFormatter]:
    """Collect: return the prompt formatters this plugin adds.

    Each has a ``name`` (what ``format=`` and ``prompt_format:`` select) and ``models`` patterns (which
    models it claims). The list feeds ``patchwire plugins`` and the default choice below.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def patchwire_choose_formatter(
    ref: ModelRef, requested: str | None, formatters: Sequence[PromptFormatter]
) -> PromptFormatter | None:
    """First result: the formatter for this model, or None to leave the choice to others.

    ``requested`` is the name the caller forced (``format=``), else None. ``formatters`` is every
    registered formatter, highest precedence first. The core's own implementation picks by name, then
    by the first formatter whose ``models`` patterns match; a fallback plugin answers last for models
    nobody claims.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def patchwire_template_formatter(name: str, template: PromptTemplate) -> PromptFormatter | None:
    """First result: a formatter that renders ``template``, a custom prompt template in LiteLLM's
    format (roles with pre/post message strings, initial and final prompt values, bos/eos tokens), named
    ``name``; None to leave it to others.

    Used by ``patchwire.register_prompt_template`` and by templates in the proxy config; the built-in
    ``custom`` plugin answers. Kept as a hook (rather than rendering templates in the core) so the core
    holds no prompt format of its own and a plugin can render the same template another way.
    """
    raise NotImplementedError


@hookspec
def patchwire_param_mappers() -> Sequence[ParamMapper]:
    """Collect: return parameter mappers. Each runs for every call to a provider it serves (its
    ``providers``; none named = all), in ascending ``order`` (ties: built-in, then third-party, then
    run-time), each seeing what the earlier ones built."""
    raise NotImplementedError


@hookspec
def patchwire_input_shapers() -> Sequence[InputShaper]:
    """Collect: return input shapers, which place the conversation among a model's inputs by its
    schema (``messages`` array, ``system_prompt`` + ``prompt``, image inputs). All of them run for
    every call, in ascending ``order`` (ties: built-in, then third-party, then run-time), before the
    parameter mappers; see ``patchwire.ShapeCall`` for what they may change. A third party adds a
    model family by returning a shaper whose ``order`` runs before the built-in one it replaces
    (built-ins: 100 images, 200 messages, 300 system prompt) and setting ``call.placed``."""
    raise NotImplementedError


@hookspec
def patchwire_call_wrappers() -> Sequence[CallWrapper]:
    """Collect: return wrappers around every call (logging, metrics, caching, a mock answer). The
    highest-precedence wrapper is outermost.

    Kept although no built-in plugin implements it: it is the one place a plugin sees every call whole
    (its request, the inputs the mappers built, the result or stream), which per-call metadata, request
    logs and counters exposed to users need."""
    raise NotImplementedError


@hookspec
def patchwire_register_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add subcommands to the ``patchwire`` CLI (``fake-replicate``, ``bench`` come this way).

    Each command sets ``func`` with ``parser.set_defaults(func=...)``; it receives the parsed args and
    returns the exit code.
    """
