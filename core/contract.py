"""Checking what plugins return from their hooks against the contract in ``patchwire.interfaces``.

A third-party object that lacks ``render``, ``stream`` or ``order`` must not fail on its first call with a
bare ``AttributeError``: each object is checked when a pipeline is built (and by ``patchwire plugins``),
every problem is reported with the plugin's name and distribution, and a call that needs what the object
lacks raises ``PluginError`` naming the plugin. Objects that keep the contract are used as they are, so
checking costs nothing per call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from patchwire.errors import PluginError
from patchwire.interfaces import OPTIONAL
from patchwire.manager import DISABLE_ENV, PluginInfo, Plugins

log = logging.getLogger("patchwire")

#: What each kind of object must have: (attribute, what it must be). Methods are "callable".
REQUIRED: dict[str, tuple[tuple[str, str], ...]] = {
    "provider": (
        ("name", "str"),
        ("parse_model", "callable"),
        ("input_schema", "callable"),
        ("complete", "callable"),
        ("stream", "callable"),
    ),
    "formatter": (("name", "str"), ("models", "patterns"), ("render", "callable")),
    "mapper": (("name", "str"), ("order", "int"), ("map", "callable")),
    "shaper": (("name", "str"), ("order", "int"), ("shape", "callable")),
    "wrapper": (("name", "str"), ("wrap", "callable")),
}
#: The optional attributes (defaults in ``patchwire.interfaces.OPTIONAL``) and what each must be.
OPTIONAL_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    "provider": (
        ("wants_prompt", "bool"),
        ("keeps_deadline", "bool"),
        ("with_options", "callable"),
        ("preview", "callable"),
        ("drain", "callable"),
    ),
    "formatter": (("uses_model_template", "bool"),),
    "mapper": (("providers", "names"), ("prepare", "callable")),
    "shaper": (("providers", "names"), ("prepare", "callable")),
    "wrapper": (),
}
#: The collecting hook that returns each kind.
HOOKS = {
    "provider": "patchwire_providers",
    "formatter": "patchwire_formatters",
    "mapper": "patchwire_param_mappers",
    "shaper": "patchwire_input_shapers",
    "wrapper": "patchwire_call_wrappers",
}

_EXPECTED = {
    "str": "a non-empty string",
    "int": "an integer",
    "bool": "true or false",
    "callable": "a method",
    "patterns": "a list of model patterns (strings)",
    "names": "a list of provider names (strings)",
}


def _fits(value: Any, expected: str) -> bool:
    if expected == "str":
        return isinstance(value, str) and bool(value)
    if expected == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "bool":
        return isinstance(value, bool)
    if expected == "callable":
        return callable(value)
    # A bare string is a sequence of characters, never a list of patterns.
    return (
        isinstance(value, Iterable)
        and not isinstance(value, str | bytes)
        and all(isinstance(item, str) for item in value)
    )


def problems_of(kind: str, obj: Any) -> list[str]:
    """What ``obj`` lacks or has wrong as a ``kind`` ("provider", "formatter", "mapper", "wrapper")."""
    found: list[str] = []
    for attribute, expected in REQUIRED[kind]:
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            found.append(f"has no {attribute!r} (it must be {_EXPECTED[expected]})")
            continue
        if not _fits(value, expected):
            found.append(f"has {attribute}={_show(value)}, which is not {_EXPECTED[expected]}")
    for attribute, expected in OPTIONAL_TYPES[kind]:
        value = getattr(obj, attribute, None)
        if value is not None and not _fits(value, expected):
            found.append(f"has {attribute}={_show(value)}, which is not {_EXPECTED[expected]}")
    return found


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@attrs.frozen
class ContractProblem:
    """One way a plugin's hook result breaks the contract, as ``patchwire plugins`` lists it."""

    plugin: str
    distribution: str
    hook: str
    #: What is wrong, e.g. "formatter 'vicuna'" or "the hook's result".
    subject: str
    problem: str

    def __str__(self) -> str:
        return f"{self.subject} from plugin {self.plugin!r} ({self.distribution}) {self.problem}"


@attrs.frozen
class Contribution:
    """One object a plugin returned from a collecting hook, with the plugin it came from."""

    obj: Any
    plugin: PluginInfo
    problems: tuple[str, ...] = ()


def collect(plugins: Plugins, kind: str) -> tuple[list[Contribution], list[ContractProblem]]:
    """Every object of ``kind`` the plugins return, highest precedence first, each checked.

    A hook that raises or returns something other than a list is reported and contributes nothing.
    """
    hook = HOOKS[kind]
    found: list[Contribution] = []
    reported: list[ContractProblem] = []
    for info, outcome in plugins.call_each(hook):
        if isinstance(outcome, BaseException):
            reported.append(
                ContractProblem(
                    info.name, info.distribution, hook, f"hook {hook}", f"raised {_describe(outcome)}"
                )
            )
            continue
        if outcome is None:
            continue
        if isinstance(outcome, str | bytes | dict) or not isinstance(outcome, Iterable):
            reported.append(
                ContractProblem(
                    info.name,
                    info.distribution,
                    hook,
                    f"hook {hook}",
                    f"returned {_show(outcome)}, not a list",
                )
            )
            continue
        for obj in outcome:
            problems = tuple(problems_of(kind, obj))
            found.append(Contribution(obj, info, problems))
            reported.extend(
                ContractProblem(info.name, info.distribution, hook, subject(kind, obj), p) for p in problems
            )
    return found, reported


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {_show(str(exc))}"


def subject(kind: str, obj: Any) -> str:
    name = getattr(obj, "name", None)
    return f"{kind} {name!r}" if isinstance(name, str) and name else f"a {kind} ({type(obj).__name__})"


def error_for(contribution: Contribution, kind: str, needed: str) -> PluginError:
    """The error a call raises when it needs what a malformed plugin object lacks."""
    info = contribution.plugin
    version = f" {info.version}" if info.version else ""
    problems = "; ".join(contribution.problems) or f"has no usable {needed!r}"
    remedy = "fix or uninstall the plugin"
    if info.kind in ("built-in", "third-party"):
        remedy += f", or skip it with {DISABLE_ENV}={info.name.rpartition(':')[2]}"
    return PluginError(
        f"{subject(kind, contribution.obj)} from plugin {info.name!r} (distribution "
        f"{info.distribution}{version}) breaks the plugin contract: it {problems}; {remedy}. "
        "`patchwire plugins` lists every such problem",
        plugin=info.name,
        distribution=info.distribution,
    )


def bad_result(
    subject: str, plugin: PluginInfo | None, method: str, value: Any, expected: str
) -> PluginError:
    """The error for a plugin object (``subject``, e.g. "formatter 'acme'") whose ``method`` returned
    ``value`` where the contract wants ``expected``."""
    name = plugin.name if plugin is not None else "(unknown)"
    dist = plugin.distribution if plugin is not None else "(unknown)"
    return PluginError(
        f"{subject} from plugin {name!r} (distribution {dist}) breaks the plugin contract: {method}() "
        f"returned {type(value).__name__}, not {expected}; fix or uninstall the plugin",
        plugin=name,
        distribution=dist,
    )


def log_problems(problems: Sequence[ContractProblem], seen: set[ContractProblem]) -> None:
    """Log each problem once per plugin set (``seen`` is kept by the caller)."""
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            log.warning("patchwire: %s; `patchwire plugins` lists every such problem", problem)


# -- stand-ins for malformed objects --------------------------------------------------------------


def _raiser(error: PluginError) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise error

    return refuse


class Usable:
    """Stands in for a malformed plugin object: what it has and keeps forwards to it, what it lacks
    (or has wrong) raises ``PluginError`` naming the plugin, data attributes fall back to defaults."""

    def __init__(self, contribution: Contribution, kind: str, broken: dict[str, Any]) -> None:
        self._inner = contribution.obj
        self._kind = kind
        self._broken = broken
        self.origin = contribution

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        broken = self.__dict__["_broken"]
        if attribute in broken:
            return broken[attribute]
        return getattr(self.__dict__["_inner"], attribute)

    def __repr__(self) -> str:
        return f"<malformed {subject(self._kind, self._inner)}>"


def usable(contribution: Contribution, kind: str) -> Any:
    """The object itself if it keeps the contract, else a stand-in that fails by name, not by
    ``AttributeError``.

    A provider keeps each method it has (one without ``stream`` still completes); a formatter, mapper or
    wrapper with any problem has its one method raise, since what it would do is undefined.
    """
    if not contribution.problems:
        return contribution.obj
    obj = contribution.obj
    broken: dict[str, Any] = {}
    for attribute, expected in REQUIRED[kind]:
        if _fits(getattr(obj, attribute, None), expected):
            continue
        if expected == "callable":
            broken[attribute] = _raiser(error_for(contribution, kind, attribute))
        else:
            broken[attribute] = _FALLBACK[expected](kind, obj)
    for attribute, expected in OPTIONAL_TYPES[kind]:
        value = getattr(obj, attribute, None)
        if value is not None and not _fits(value, expected):
            broken[attribute] = OPTIONAL[kind][attribute]  # the documented default
    if kind != "provider":
        method = REQUIRED[kind][-1][0]
        broken[method] = _raiser(error_for(contribution, kind, method))
        if "prepare" in OPTIONAL[kind]:
            broken["prepare"] = None  # its prepared function must not stand in for the broken method
    return Usable(contribution, kind, broken)


#: What a malformed object's data attribute reads as: enough to list and sort it, never to match a model.
_FALLBACK: dict[str, Callable[[str, Any], Any]] = {
    "str": lambda kind, obj: f"<malformed {kind} {type(obj).__name__}>",
    "int": lambda kind, obj: 0,
    "patterns": lambda kind, obj: (),
}
