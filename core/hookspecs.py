"""The hook specification: the whole contract between the core and its plugins.

A plugin is a module (or object) with functions marked ``@patchwire.hookimpl``, named after the hooks
below, found through the entry-point group ``patchwire``. Hooks are plain functions returning objects;
the async work lives in the objects they return (pluggy has no async hooks). The core calls these hooks
when it builds a model's pipeline, which it does once per model and caches, never per call or token.

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
    """First result: a formatter that renders a custom ``PromptTemplate`` (the seed's format).

    Used by ``patchwire.register_prompt_template`` and by templates in the proxy config.
    """
    raise NotImplementedError


@hookspec
def patchwire_param_mappers() -> Sequence[ParamMapper]:
    """Collect: return parameter mappers. All of them run for every call, in ascending ``order``
    (ties: built-in, then third-party, then run-time), each seeing what the earlier ones built."""
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
    """Collect: return wrappers around every call (logging, metrics, caching). The highest-precedence
    wrapper is outermost."""
    raise NotImplementedError


@hookspec
def patchwire_register_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add subcommands to the ``patchwire`` CLI (``fake-replicate``, ``bench`` come this way).

    Each command sets ``func`` with ``parser.set_defaults(func=...)``; it receives the parsed args and
    returns the exit code.
    """
