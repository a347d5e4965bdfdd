"""``patchwire bench`` end to end: the real command, a simulator child process, worker processes.

Tiny runs only; no test asserts a speed, only the report's shape and that its counts add up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

SIDE_FIELDS = {
    "side",
    "concurrency",
    "requests",
    "completed",
    "successes",
    "errors",
    "errors_by_kind",
    "stopped_by_time_limit",
    "wall_s",
    "throughput",
    "latency_ms",
    "ttft_ms",
    "cpu_s",
    "cpu_per_prediction_us",
    "peak_rss_mb",
    "rss_growth_mb",
    "loop",
    "repeats",
}
RATIO_FIELDS = {
    "throughput",
    "latency_p50",
    "latency_p90",
    "latency_p99",
    "latency_p50_extra_ms",
    "cpu_per_prediction",
    "peak_rss",
    "ttft_p50",
}


def bench(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "patchwire", "bench", "--no-progress", "--repeat", "1", *args],
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def report_of(*args: str) -> dict[str, Any]:
    done = bench("--json", *args)
    assert done.returncode == 0, done.stderr.decode()
    report: dict[str, Any] = orjson.loads(done.stdout)
    return report


def assert_counts_add_up(side: dict[str, Any], requests: int) -> None:
    assert side["requests"] == requests
    assert side["successes"] + side["errors"] == requests
    assert side["completed"] == requests
    assert sum(side["errors_by_kind"].values()) == side["errors"]


def test_json_report_has_every_field_and_counts_add_up() -> None:
    report = report_of("--requests", "20", "--concurrency", "5", "--latency", "0.01")
    assert report["schema"] == "patchwire.bench/1"
    assert report["loop"] in ("asyncio", "uvloop")
    assert report["machine"]["python"]
    assert report["config"]["requests"] == 20
    assert report["config"]["mode"] == "wait"
    (run,) = report["runs"]
    assert run["concurrency"] == 5
    assert set(run["sides"]) == {"baseline", "patchwire"}
    for side in run["sides"].values():
        assert set(side) == SIDE_FIELDS
        assert_counts_add_up(side, 20)
        assert side["errors"] == 0
        assert side["throughput"] > 0
        assert side["latency_ms"]["p50"] <= side["latency_ms"]["p90"] <= side["latency_ms"]["p99"]
        assert side["ttft_ms"] is None  # not a stream
        assert side["cpu_per_prediction_us"] > 0
        assert side["peak_rss_mb"] > 0
    assert set(run["ratios"]) == {"patchwire"}
    assert set(run["ratios"]["patchwire"]) == RATIO_FIELDS
    assert {t["target"] for t in run["targets"]} == {
        "throughput >= 0.9x baseline",
        "client CPU per prediction <= 1.5x baseline",
        "latency p50 <= baseline + 5 ms",
    }


def test_stream_sweep_reports_ttft_and_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "bench.png"
    report = report_of(
        "--mode", "stream", "--requests", "8", "--concurrency", "1,4", "--latency", "0.01",
        "--tokens", "4", "--plot", str(png),
    )  # fmt: skip
    assert [run["concurrency"] for run in report["runs"]] == [1, 4]
    for run in report["runs"]:
        for side in run["sides"].values():
            assert_counts_add_up(side, 8)
            assert side["ttft_ms"]["p50"] is not None
            # the first token comes before the end of the stream
            assert side["ttft_ms"]["p50"] <= side["latency_ms"]["p99"]
        assert run["ratios"]["patchwire"]["ttft_p50"] is not None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_faults_are_counted_not_fatal() -> None:
    report = report_of(
        "--requests", "30", "--concurrency", "5", "--latency", "0.01",
        "--faults", "5xx=0.3,retry_after=0.05",
    )  # fmt: skip
    (run,) = report["runs"]
    assert report["config"]["faults"] == {"5xx": 0.3}
    for side in run["sides"].values():
        assert_counts_add_up(side, 30)
    # the baseline does not retry: a 5xx on its create or poll is an error of that run
    assert run["sides"]["baseline"]["errors"] > 0


def test_table_shows_both_sides_the_ratio_and_the_loop() -> None:
    done = bench("--requests", "10", "--concurrency", "2", "--latency", "0.01")
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    for text in ("baseline", "patchwire", "patchwire/baseline", "pred/s", "p50 ms", "cpu/pred", "peak RSS"):
        assert text in out
    assert "event loop: uvloop" in out or "event loop: asyncio" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faults", "429=2"], "is a probability"),
        (["--faults", "bogus=0.1"], "unknown fault 'bogus'"),
        (["--concurrency", "ten"], "comma-separated sweep"),
        (["--requests", "0"], "--requests must be at least 1"),
    ],
)
def test_bad_options_exit_2_with_what_to_do(args: list[str], message: str) -> None:
    done = bench(*args, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr.decode()


def test_compare_litellm_without_litellm_says_how_to_install_it() -> None:
    pytest.importorskip("patchwire")
    try:
        import litellm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("litellm is installed here")
    done = bench("--compare", "litellm", "--requests", "2", timeout=60)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert "LiteLLM is not installed" in err
    assert "--litellm-python" in err
