"""The soak (benchmarks/soak.py) at CI size: predictions through 429s, 503s, dropped connections and cut
streams, in every mode. Every call gets its prediction's complete output or a typed error, no call makes
two predictions (a lost create is sent again only once the list proves it made none), nothing is
left running. ``Retry-After`` is 0 here so the 429s cost no wall time; the
soak script honours 1 s at full size."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support import TEST_KEY, StartSimulator

import patchwire
from patchwire import UnknownOutcomeError
from patchwire.providers.replicate.simulator import Faults

CALLS = 150
LLAMA3 = "replicate/meta/meta-llama-3-8b-instruct"
MSGS = [{"role": "user", "content": "Hello"}]


def _load_soak() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"
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
    # Every call succeeds: a create lost in a dropped connection before it made anything is sent again
    # once the prediction list proves it, and the upstream here never stays unreachable for long.
    assert figures.succeeded == CALLS, figures.errors


def test_soak_command_line_reports_and_exits_zero_on_a_clean_run(capsys: pytest.CaptureFixture[str]) -> None:
    code = soak.main(["--calls", "20", "--modes", "poll", "--retry-after", "0", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert '"outputs_verified"' in out and '"duplicates": 0' in out


def test_soak_command_line_refuses_unknown_modes() -> None:
    with pytest.raises(SystemExit):
        soak.main(["--modes", "sideways"])


# -- creates of unknown outcome ------------------------------------------------------------------


@pytest.mark.parametrize("mode", soak.MODES)
async def test_creates_cut_after_the_prediction_was_made_are_found_never_resent(mode: str) -> None:
    faults = Faults(rate_drop_after_create=0.3, routes={"create"}, seed=3)
    (figures,) = await soak.soak(calls=60, modes=(mode,), faults=faults)
    assert figures.problems == []
    assert figures.faults["drop_after_create"] >= 10
    assert figures.duplicates == 0 and figures.orphans == 0
    # The simulator made each of those predictions: every call finds its own and finishes.
    assert figures.succeeded == figures.outputs_verified == figures.created == 60


async def test_lookup_of_a_lost_create_that_keeps_failing_is_an_unknown_outcome(
    start_simulator: StartSimulator, router: patchwire.Router
) -> None:
    # The create made a prediction but its answer was lost, and the list cannot be read either: the
    # caller must learn that the prediction may be running, not merely that a read failed.
    running = await start_simulator(faults=Faults(statuses_5xx=(502,)))
    running.sim.inject_fault("drop_after_create", route="create")
    running.sim.inject_fault("5xx", route="list", times=1000)
    with pytest.raises(UnknownOutcomeError) as info:
        await router.acompletion(LLAMA3, MSGS, api_key=TEST_KEY, api_base=running.url, timeout=4)
    assert "not resent" in str(info.value)
    assert running.sim.stats.by_route["create"] == 1 and running.sim.stats.created == 1
