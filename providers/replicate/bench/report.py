"""The benchmark's report: figures per side and concurrency, ratios to the baseline and the targets
checked on them, as JSON (``--json``) or as a table."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

SCHEMA = "patchwire.bench/1"

#: The targets patchwire must meet against the baseline (on the simulator, 50 ms, 400 predictions, c=100).
THROUGHPUT_MIN = 0.9
CPU_MAX = 1.5
P50_EXTRA_MS = 5.0
STREAM_MAX = 1.1


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "patchwire": _version("patchwire"),
        "aiohttp": _version("aiohttp"),
        "uvloop": _version("uvloop"),
        "litellm": _version("litellm"),
    }


def _median(values: Sequence[Any]) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    median = statistics.median(present)
    return round(median, 3) if isinstance(median, float) else median


def combine(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One side's repeats at one concurrency: counts added up, every other figure the median."""
    first = results[0]
    if len(results) == 1:
        return {**first, "repeats": 1}
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors_by_kind"])
    combined: dict[str, Any] = {"side": first["side"], "concurrency": first["concurrency"]}
    for key in ("requests", "completed", "successes", "errors"):
        combined[key] = sum(r[key] for r in results)
    combined["errors_by_kind"] = dict(sorted(errors.items()))
    combined["stopped_by_time_limit"] = any(r["stopped_by_time_limit"] for r in results)
    for key in ("wall_s", "throughput", "cpu_s", "cpu_per_prediction_us", "peak_rss_mb", "rss_growth_mb"):
        combined[key] = _median([r[key] for r in results])
    for key in ("latency_ms", "ttft_ms"):
        parts = [r[key] for r in results if r[key] is not None]
        combined[key] = {q: _median([p[q] for p in parts]) for q in parts[0]} if parts else None
    combined["loop"] = first["loop"]
    combined["repeats"] = len(results)
    return combined


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def ratios(side: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """``side`` over the baseline: >1 means more (better for throughput, worse for the rest)."""
    lat, base_lat = side["latency_ms"], base["latency_ms"]
    out: dict[str, Any] = {
        "throughput": _ratio(side["throughput"], base["throughput"]),
        "latency_p50": _ratio(lat["p50"], base_lat["p50"]),
        "latency_p90": _ratio(lat["p90"], base_lat["p90"]),
        "latency_p99": _ratio(lat["p99"], base_lat["p99"]),
        "latency_p50_extra_ms": (
            round(lat["p50"] - base_lat["p50"], 3)
            if lat["p50"] is not None and base_lat["p50"] is not None
            else None
        ),
        "cpu_per_prediction": _ratio(side["cpu_per_prediction_us"], base["cpu_per_prediction_us"]),
        "peak_rss": _ratio(side["peak_rss_mb"], base["peak_rss_mb"]),
        "ttft_p50": None,
    }
    if side["ttft_ms"] and base["ttft_ms"]:
        out["ttft_p50"] = _ratio(side["ttft_ms"]["p50"], base["ttft_ms"]["p50"])
    return out


def targets(mode: str, r: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The targets checked on this run's patchwire/baseline ratios."""

    def check(name: str, value: float | None, limit: float, at_least: bool) -> dict[str, Any]:
        ok = value is not None and (value >= limit if at_least else value <= limit)
        return {"target": name, "value": value, "limit": limit, "pass": ok}

    if mode == "stream":
        return [
            check("latency p50 <= 1.1x baseline", r["latency_p50"], STREAM_MAX, False),
            check("time to first token p50 <= 1.1x baseline", r["ttft_p50"], STREAM_MAX, False),
            check("client CPU per prediction <= 1.5x baseline", r["cpu_per_prediction"], CPU_MAX, False),
        ]
    return [
        check("throughput >= 0.9x baseline", r["throughput"], THROUGHPUT_MIN, True),
        check("client CPU per prediction <= 1.5x baseline", r["cpu_per_prediction"], CPU_MAX, False),
        check("latency p50 <= baseline + 5 ms", r["latency_p50_extra_ms"], P50_EXTRA_MS, False),
    ]


def build(
    config: Mapping[str, Any], runs: Mapping[int, Mapping[str, Sequence[Mapping[str, Any]]]]
) -> dict[str, Any]:
    """The whole report from the raw results: ``runs[concurrency][side]`` is that side's repeats."""
    out_runs = []
    for concurrency, by_side in runs.items():
        sides = {side: combine(results) for side, results in by_side.items()}
        base = sides["baseline"]
        rel = {side: ratios(figures, base) for side, figures in sides.items() if side != "baseline"}
        entry: dict[str, Any] = {"concurrency": concurrency, "sides": sides, "ratios": rel}
        if "patchwire" in rel:
            entry["targets"] = targets(config["mode"], rel["patchwire"])
        out_runs.append(entry)
    loops = {s["loop"] for run in out_runs for s in run["sides"].values()}
    return {
        "schema": SCHEMA,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "loop": ", ".join(sorted(loops)),
        "config": dict(config),
        "runs": out_runs,
    }


# -- the table -------------------------------------------------------------------------------------


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


HEADER = (
    f"{'side':<22}{'requests':>9}{'errors':>8}{'pred/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
    f"{'ttft p50':>10}{'cpu/pred µs':>13}{'peak RSS MB':>13}"
)


def _row(label: str, s: Mapping[str, Any]) -> str:
    lat, ttft = s["latency_ms"], s["ttft_ms"]
    return (
        f"{label:<22}{s['requests']:>9}{s['errors']:>8}{_num(s['throughput'], '.1f'):>10}"
        f"{_num(lat['p50'], '.1f'):>9}{_num(lat['p90'], '.1f'):>9}{_num(lat['p99'], '.1f'):>9}"
        f"{_num(ttft['p50'] if ttft else None, '.1f'):>10}{_num(s['cpu_per_prediction_us'], '.0f'):>13}"
        f"{_num(s['peak_rss_mb'], '.1f'):>13}"
    )


def _ratio_row(label: str, r: Mapping[str, Any]) -> str:
    extra = r["latency_p50_extra_ms"]
    p50 = f"{_x(r['latency_p50'])}" + (f" ({extra:+.1f} ms)" if extra is not None else "")
    return (
        f"{label:<22}{'':>9}{'':>8}{_x(r['throughput']):>10}  p50 {p50:<21}{_x(r['ttft_p50']):>8}"
        f"{_x(r['cpu_per_prediction']):>13}{_x(r['peak_rss']):>13}"
    )


def render(report: Mapping[str, Any]) -> str:
    cfg, mach = report["config"], report["machine"]
    faults = ", ".join(f"{k}={v}" for k, v in cfg["faults"].items()) or "none"
    lines = [
        f"patchwire bench: {cfg['model']}, mode {cfg['mode']}, {cfg['requests']} predictions per side"
        + (f" x{cfg['repeat']} (medians)" if cfg["repeat"] > 1 else ""),
        f"endpoint: {cfg['endpoint']}; latency {cfg['latency'] * 1000:g} ms, {cfg['tokens']} tokens "
        f"every {cfg['token_interval'] * 1000:g} ms, cold boot {cfg['cold_boot']:g} s, faults: {faults}",
        f"event loop: {report['loop']}; Python {mach['python']}, {mach['cpus']} CPUs, "
        f"aiohttp {mach['aiohttp']}",
    ]
    for run in report["runs"]:
        lines += ["", f"concurrency {run['concurrency']}", HEADER]
        for side, figures in run["sides"].items():
            lines.append(_row(side, figures))
        for side, r in run["ratios"].items():
            lines.append(_ratio_row(f"{side}/baseline", r))
        for t in run.get("targets", ()):
            mark = "ok  " if t["pass"] else "MISS"
            lines.append(f"  [{mark}] {t['target']}: {_num(t['value'], '.3f')}")
        for side, figures in run["sides"].items():
            if figures["errors_by_kind"]:
                kinds = ", ".join(f"{k} x{n}" for k, n in figures["errors_by_kind"].items())
                lines.append(f"  {side} errors: {kinds}")
            if figures["stopped_by_time_limit"]:
                lines.append(f"  {side}: stopped by the time limit before every request was made")
    return "\n".join(lines) + "\n"


def write(report: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(render(report))
    sys.stdout.flush()
