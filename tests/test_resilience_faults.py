"""The soak (benchmarks/soak.py) at CI size: predictions through 429s, 503s, dropped connections and cut
streams, in every mode. Every call gets its prediction's complete output or a typed error, no call makes
two predictions, nothing is left running. ``Retry-After`` is 0 here so the 429s cost no wall time; the
soak script honours 1 s at full size."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

CALLS = 150


def _load_soak() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"
    spec = importlib.util.spec_from_file_location("patchwire_soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # attrs classes need their module registered
    spec.loader.exec_module(module)
    return module


soak = _load_soak()


@pytest.mark.parametrize("mode", soak.MODES)
async def test_every_call_gets_its_output_or_a_typed_error_without_duplicates_or_orphans(
    mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (figures,) = await soak.soak(calls=CALLS, modes=(mode,), faults=soak.soak_faults(retry_after=0, seed=7))
    with capsys.disabled():
        print(f"\n{soak.render([figures])}")
    assert figures.problems == []
    assert figures.calls == CALLS
    assert figures.succeeded + sum(figures.errors.values()) == CALLS
    assert figures.outputs_verified == figures.succeeded
    assert figures.duplicates == 0 and figures.orphans == 0
    # Every success made exactly one prediction; a failed call made at most one (and it is not running).
    assert figures.succeeded <= figures.calls_with_prediction == figures.created <= CALLS
    # The run really went through faults of every kind this mode meets.
    expected = {"429", "5xx", "drop"} | ({"cut_stream"} if mode == "stream" else set())
    assert expected <= set(figures.faults), figures.faults
    # Most calls still succeed: only creates lost in a dropped connection may end unknown.
    assert figures.succeeded >= CALLS * 0.8
    assert set(figures.errors) <= {"UnknownOutcomeError"}, figures.errors


def test_soak_command_line_reports_and_exits_zero_on_a_clean_run(capsys: pytest.CaptureFixture[str]) -> None:
    code = soak.main(["--calls", "20", "--modes", "poll", "--retry-after", "0", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert '"outputs_verified"' in out and '"duplicates": 0' in out


def test_soak_command_line_refuses_unknown_modes() -> None:
    with pytest.raises(SystemExit):
        soak.main(["--modes", "sideways"])
