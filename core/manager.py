"""Finding and registering plugins.

Entry points in the group ``patchwire`` are loaded one by one (pluggy's bulk loader stops at the first
import error and silently skips a second entry point with the same name), built-ins first, then third
parties, then whatever is registered at run time, so that pluggy's last-registered-first call order is
our precedence. A plugin that fails to import is recorded and logged; the others still load.

``PATCHWIRE_PLUGINS=name,name`` loads only those entry points, and ``PATCHWIRE_DISABLE_PLUGINS=name``
skips some: both are for finding the culprit in a broken install.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from importlib import metadata
from typing import Any

import attrs
import pluggy

from patchwire import hookspecs
from patchwire.hookspecs import PROJECT

log = logging.getLogger("patchwire")

BUILTIN_DISTRIBUTION = "patchwire"
ONLY_ENV = "PATCHWIRE_PLUGINS"
DISABLE_ENV = "PATCHWIRE_DISABLE_PLUGINS"


@attrs.frozen
class PluginInfo:
    """One registered plugin, as ``patchwire plugins`` shows it."""

    name: str
    distribution: str
    version: str
    kind: str  # "core", "built-in", "third-party" or "run-time"
    hooks: tuple[str, ...]


@attrs.frozen
class PluginFailure:
    """An entry point that could not be loaded, and why."""

    name: str
    distribution: str
    version: str
    error: str


def _names_from_env(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


class Plugins:
    """The pluggy manager plus what the core needs around it: load order, failures, a generation.

    ``generation`` changes whenever a plugin is registered or removed; routers key their pipeline
    caches on it, so a change of plugins is seen on the next call and never costs a hook per call.
    """

    def __init__(self, *, load_entrypoints: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.generation = 0
        #: Contract problems already logged for this set of plugins (each is logged once).
        self.reported: set[Any] = set()
        self._info: dict[str, PluginInfo] = {}
        self._lock = threading.Lock()
        from patchwire import formatting  # the core's own hook implementations

        self._register(formatting, "patchwire.core", BUILTIN_DISTRIBUTION, _version(), "core")
        if load_entrypoints:
            self.load_entrypoints()

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def load_entrypoints(self) -> None:
        """Load every entry point in the group: built-ins first, then third parties by name."""
        only = _names_from_env(ONLY_ENV)
        disabled = _names_from_env(DISABLE_ENV) or set()
        points = [
            ep
            for ep in metadata.entry_points(group=PROJECT)
            if (only is None or ep.name in only) and ep.name not in disabled
        ]
        builtin = [ep for ep in points if _dist_name(ep) == BUILTIN_DISTRIBUTION]
        third = sorted(
            (ep for ep in points if _dist_name(ep) != BUILTIN_DISTRIBUTION),
            key=lambda ep: (_dist_name(ep), ep.name),
        )
        for ep in [*builtin, *third]:
            self._load_one(ep, "built-in" if ep in builtin else "third-party")

    def _load_one(self, ep: metadata.EntryPoint, kind: str) -> None:
        dist = _dist_name(ep)
        version = ep.dist.version if ep.dist is not None else ""
        # Two distributions may use the same entry-point name; the registered name keeps both apart.
        name = ep.name if kind == "built-in" else f"{dist}:{ep.name}"
        if self.pm.has_plugin(name):
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            failure = PluginFailure(ep.name, dist, version, f"{type(exc).__name__}: {exc}")
            self.failures.append(failure)
            log.warning(
                "patchwire: plugin %r from %s %s failed to load (%s); the others are loaded. "
                "Set %s to limit which plugins load.",
                ep.name,
                dist,
                version,
                failure.error,
                ONLY_ENV,
            )
            return
        try:
            self._register(plugin, name, dist, version, kind)
        except Exception as exc:  # e.g. a hook implementation with a wrong signature
            failure = PluginFailure(ep.name, dist, version, f"{type(exc).__name__}: {exc}")
            self.failures.append(failure)
            log.warning("patchwire: plugin %r from %s is invalid: %s", ep.name, dist, failure.error)

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin at run time: it takes precedence over every entry-point plugin."""
        name = name or f"runtime-{id(plugin):x}"
        self._register(plugin, name, "(run time)", "", "run-time")
        return name

    def register_providers(self, *providers: Any, name: str | None = None) -> str:
        """Register providers at run time, above the installed ones: e.g. a provider built with other
        options, such as ``ReplicateProvider(prefer_wait=0)`` (create without waiting, then poll)."""
        return self.register(_ProvidersPlugin(providers), name)

    def unregister(self, name: str) -> None:
        with self._lock:
            self.pm.unregister(name=name)
            self._info.pop(name, None)
            self.reported.clear()
            self.generation += 1

    def _register(self, plugin: object, name: str, dist: str, version: str, kind: str) -> None:
        with self._lock:
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            self.pm.register(plugin, name=name)
            self._info[name] = PluginInfo(name, dist, version, kind, ())
            self.reported.clear()
            self.generation += 1

    def infos(self) -> Iterator[PluginInfo]:
        """Every registered plugin with the hooks it implements, in registration order."""
        for name, info in self._info.items():
            plugin = self.pm.get_plugin(name)
            callers = self.pm.get_hookcallers(plugin) or []
            hooks = tuple(sorted(caller.name for caller in callers))
            yield attrs.evolve(info, hooks=hooks)

    def info(self, name: str) -> PluginInfo:
        """The registered plugin called ``name``."""
        return self._info.get(name) or PluginInfo(name, "(unknown)", "", "run-time", ())

    def call_each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[PluginInfo, Any]]:
        """Call a collecting hook plugin by plugin, highest precedence first, keeping who returned what.

        Yields ``(plugin, result)``; an exception the plugin's hook raised is yielded as the result, so
        one broken plugin is reported by name and the others still answer.
        """
        caller = getattr(self.pm.hook, hook_name)
        # pluggy calls the last-registered implementation first: the same order here.
        for impl in reversed(caller.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                result = impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:  # a broken plugin must not take the others down
                result = exc
            yield self.info(impl.plugin_name), result

    def collect(self, results: Iterable[Iterable[Any] | None]) -> list[Any]:
        """Flatten a collecting hook's results (each plugin returns a list, or None)."""
        out: list[Any] = []
        for result in results:
            if result is None:
                continue
            out.extend(result)
        return out


class _ProvidersPlugin:
    """A run-time plugin contributing the providers it was given."""

    def __init__(self, providers: tuple[Any, ...]) -> None:
        self.providers = list(providers)

    @hookspecs.hookimpl
    def patchwire_providers(self) -> list[Any]:
        return self.providers


def _dist_name(ep: metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "(unknown)"


def _version() -> str:
    try:
        return metadata.version(BUILTIN_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return ""


_default: Plugins | None = None
_default_lock = threading.Lock()


def get_plugins() -> Plugins:
    """The process-wide plugin set (loaded on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Plugins()
    return _default
