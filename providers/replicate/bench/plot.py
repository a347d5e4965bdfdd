"""``--plot PATH``: throughput and latency against concurrency, one line per side, as a PNG."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patchwire.errors import ConfigError


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(
            "--plot needs matplotlib: pip install 'patchwire[bench]' (or leave out --plot)"
        ) from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def plot(report: Mapping[str, Any], path: str) -> None:
    plt = _pyplot()
    runs = report["runs"]
    concurrency = [run["concurrency"] for run in runs]
    sides = list(runs[0]["sides"]) if runs else []
    fig, (ax_tp, ax_lat) = plt.subplots(1, 2, figsize=(11, 4.2))
    for side in sides:
        figures = [run["sides"][side] for run in runs]
        ax_tp.plot(concurrency, [f["throughput"] for f in figures], marker="o", label=side)
        for q, style in (("p50", "-"), ("p99", ":")):
            ax_lat.plot(
                concurrency,
                [f["latency_ms"][q] for f in figures],
                linestyle=style,
                marker="o",
                label=f"{side} {q}",
            )
    cfg = report["config"]
    for ax, title, unit in (
        (ax_tp, "throughput", "predictions/s"),
        (ax_lat, "latency", "ms"),
    ):
        ax.set_xscale(
            "log" if len(concurrency) > 1 and max(concurrency) / min(concurrency) >= 10 else "linear"
        )
        ax.set_xlabel("concurrency")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(
        f"patchwire bench, mode {cfg['mode']}, {cfg['requests']} predictions, "
        f"latency {cfg['latency'] * 1000:g} ms ({report['loop']})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
