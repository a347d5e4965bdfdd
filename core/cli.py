"""The ``patchwire`` command. Core commands live here; plugins add theirs through
``patchwire_register_commands`` (``fake-replicate`` and ``bench`` come from the Replicate plugin)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from patchwire import contract
from patchwire.logformat import COMMAND_FORMAT, NameOnce
from patchwire.manager import Plugins, get_plugins
from patchwire.types import ModelRef


def plugins_report(plugins: Plugins) -> dict[str, Any]:
    """What ``patchwire plugins --json`` prints: plugins, providers, formatters in the order they are
    tried, mappers in the order they run with the providers they serve, call wrappers, contract
    problems and load failures."""
    problems: list[contract.ContractProblem] = []

    def checked(kind: str) -> list[Any]:
        found, reported = contract.collect(plugins, kind)
        problems.extend(reported)
        return [contract.usable(c, kind) for c in found]

    providers = [p.name for p in checked("provider")]
    formatters, fallback = _formatters_in_order(plugins, checked("formatter"))
    # The order the pipeline runs them in: ties run built-ins first (see patchwire.pipeline).
    mappers = [
        {"name": m.name, "order": m.order, "providers": sorted(getattr(m, "providers", ()) or ())}
        for m in reversed(checked("mapper"))
    ]
    shapers = [
        {"name": s.name, "order": s.order, "providers": sorted(getattr(s, "providers", ()) or ())}
        for s in reversed(checked("shaper"))
    ]
    wrappers = [w.name for w in checked("wrapper")]
    return {
        "plugins": [
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "kind": info.kind,
                "hooks": list(info.hooks),
            }
            for info in plugins.infos()
        ],
        "providers": providers,
        "formatters": formatters,
        "fallback_formatter": fallback,
        "shapers": sorted(shapers, key=lambda s: s["order"]),
        "mappers": sorted(mappers, key=lambda m: m["order"]),
        "wrappers": wrappers,
        "problems": [
            {
                "plugin": p.plugin,
                "distribution": p.distribution,
                "hook": p.hook,
                "subject": p.subject,
                "problem": p.problem,
            }
            for p in problems
        ],
        "failures": [
            {"name": f.name, "distribution": f.distribution, "version": f.version, "error": f.error}
            for f in plugins.failures
        ],
    }


def _formatters_in_order(plugins: Plugins, found: list[Any]) -> tuple[list[dict[str, Any]], str | None]:
    """Formatters in the order a model's format is chosen: those with patterns (highest precedence
    first; the first match wins), then those chosen only by name, then the fallback — the one that
    answers for a model nobody claims — last. Also the fallback's name."""
    hook = plugins.hook
    try:
        unclaimed = ModelRef(provider="patchwire", raw="(a model no formatter claims)")
        chosen = hook.patchwire_choose_formatter(ref=unclaimed, requested=None, formatters=[])
    except Exception:  # a plugin's chooser failing must not break the listing
        chosen = None
    fallback = getattr(chosen, "name", None)
    patterned = [f for f in found if f.models and f.name != fallback]
    by_name = [f for f in found if not f.models and f.name != fallback]
    last = [f for f in found if f.name == fallback][:1]
    ordered = [{"name": f.name, "models": list(f.models)} for f in (*patterned, *by_name, *last)]
    return ordered, fallback


def _cmd_plugins(args: argparse.Namespace) -> int:
    report = plugins_report(get_plugins())
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    out = sys.stdout.write
    out("Plugins (lowest precedence first):\n")
    for p in report["plugins"]:
        version = f" {p['version']}" if p["version"] else ""
        out(f"  {p['name']:<24} {p['distribution']}{version} [{p['kind']}]\n")
        out(f"    hooks: {', '.join(p['hooks']) or '-'}\n")
    out(f"Providers: {', '.join(report['providers']) or '-'}\n")
    out("Prompt formatters (in the order they are tried; the first whose models match wins):\n")
    for f in report["formatters"]:
        if f["name"] == report["fallback_formatter"]:
            claims = "(fallback: models nobody claims)"
        else:
            claims = ", ".join(f["models"]) or f"(by name only: format={f['name']!r})"
        out(f"  {f['name']:<24} {claims}\n")
    out("Parameter mappers (run in this order):\n")
    for m in report["mappers"]:
        serves = ", ".join(m["providers"]) or "every provider"
        out(f"  {m['order']:>5}  {m['name']:<24} serves {serves}\n")
    out("Input shapers (run in this order, before the mappers):\n")
    for s in report["shapers"]:
        serves = ", ".join(s["providers"]) or "every provider"
        out(f"  {s['order']:>5}  {s['name']:<24} serves {serves}\n")
    if report["wrappers"]:
        out(f"Call wrappers (outermost first): {', '.join(report['wrappers'])}\n")
    if report["problems"]:
        out("Contract problems (calls that need what is missing fail with PluginError):\n")
        for p in report["problems"]:
            out(f"  {p['subject']} from plugin {p['plugin']!r} ({p['distribution']}): {p['problem']}\n")
    if report["failures"]:
        out("Failed to load:\n")
        for f in report["failures"]:
            out(f"  {f['name']} from {f['distribution']} {f['version']}: {f['error']}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patchwire", description="Call hosted language models through one OpenAI-shaped API."
    )
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("plugins", help="list loaded plugins, formatters, mappers and load failures")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_plugins)
    try:
        from patchwire.proxy.cli import add_serve_command
    except ImportError:  # the proxy is part of the core; this only guards a partial install
        pass
    else:
        add_serve_command(sub)
    from patchwire.inspect_model import add_inspect_command

    add_inspect_command(sub)
    get_plugins().hook.patchwire_register_commands(subparsers=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(NameOnce(COMMAND_FORMAT))
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, handlers=[handler])
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        code: int = func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
