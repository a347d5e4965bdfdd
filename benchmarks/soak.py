"""Soak: many predictions through an unreliable Replicate, in every mode, checked one by one.

    python benchmarks/soak.py                       # 1,000 calls per mode, the issue's fault rates
    python benchmarks/soak.py --calls 200 --modes stream --retry-after 0 --json

The simulator (in this process, 127.0.0.1) injects 429s with ``Retry-After``, 503s, dropped connections
and streams cut mid-way on every route. Each call carries a unique marker in its prompt, so afterwards
every prediction is traced back to the call that made it. A run passes when:

- every call returned the prediction's complete output (compared with the simulator's own chunks), or
  raised a typed patchwire error with a message (never a raw aiohttp/asyncio exception);
- no call made more than one prediction (a create of unknown outcome is looked up, and sent again only
  once the prediction list proves it made none), and
  the simulator's count of created predictions equals the number of calls that made one;
- no prediction is left running once the calls are done.

Modes: ``wait`` (create with ``Prefer: wait``, then poll), ``poll`` (``prefer_wait=0``: create and poll
at once), ``stream`` (server-sent events, resumed after a cut). ``tests/resilience/test_faults_resilience.py``
runs the same checks at a reduced size in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import sys
import time
from typing import Any

import attrs

import patchwire
from patchwire.providers.replicate.simulator import Faults, ReplicateSimulator, SimulatorConfig

MODEL = "replicate/meta/meta-llama-3-8b-instruct"
KEY = "r8_soak-test-key-0123456789"
MODES = ("wait", "poll", "stream")
MARKER = re.compile(r"soak-(\w+)-(\d+)\b")


@attrs.define
class SoakFigures:
    """What one mode's run did; ``problems`` lists every broken promise (empty when it passed)."""

    mode: str
    calls: int = 0
    succeeded: int = 0
    outputs_verified: int = 0
    errors: collections.Counter[str] = attrs.Factory(collections.Counter)
    faults: dict[str, int] = attrs.Factory(dict)
    created: int = 0
    calls_with_prediction: int = 0
    duplicates: int = 0
    orphans: int = 0
    seconds: float = 0.0
    problems: list[str] = attrs.Factory(list)

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "errors": dict(self.errors)}


def soak_faults(retry_after: float = 1.0, seed: int = 0, scale: float = 1.0) -> Faults:
    """The issue's fault mix: 10% 429 (Retry-After), 5% 503, 5% dropped connections, 5% cut streams."""
    return Faults(
        rate_429=0.10 * scale,
        rate_5xx=0.05 * scale,
        rate_drop=0.05 * scale,
        rate_cut_stream=0.05 * scale,
        statuses_5xx=(503,),
        retry_after=retry_after,
        seed=seed,
    )


def make_router(mode: str, *, shared_back_off: bool = True) -> patchwire.Router:
    """A router whose Replicate provider works in ``mode`` (poll: ``prefer_wait=0``)."""
    gate = patchwire.RateGate() if shared_back_off else None
    options = {"replicate": {"prefer_wait": 0 if mode == "poll" else 5}}
    return patchwire.Router(provider_options=options, rate_gate=gate)


async def _one_call(
    router: patchwire.Router, url: str, mode: str, i: int, timeout: float
) -> tuple[str | None, str | None, BaseException | None]:
    """(prediction id, output text, error) of call ``i``."""
    messages = [{"role": "user", "content": f"soak-{mode}-{i} tell me about the sea"}]
    try:
        if mode == "stream":
            stream = await router.acompletion(
                MODEL, messages, api_key=KEY, api_base=url, stream=True, timeout=timeout
            )
            pid: str | None = None
            parts: list[str] = []
            async with stream:
                async for chunk in stream:
                    pid = pid or chunk.id
                    parts.extend(c.delta.content or "" for c in chunk.choices)
            return pid, "".join(parts), None
        response = await router.acompletion(MODEL, messages, api_key=KEY, api_base=url, timeout=timeout)
        return response.id, response.choices[0].message.content or "", None
    except Exception as exc:  # judged below: only typed patchwire errors are acceptable
        return None, None, exc


async def wait_until(condition: Any, timeout: float) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds (checked between short sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def soak_mode(
    sim: ReplicateSimulator,
    url: str,
    mode: str,
    *,
    calls: int,
    concurrency: int = 50,
    timeout: float = 60.0,
    shared_back_off: bool = True,
) -> SoakFigures:
    """Run ``calls`` calls in ``mode`` against a running simulator and check every promise."""
    figures = SoakFigures(mode=mode, calls=calls)
    faults_before = collections.Counter(sim.stats.faults)
    ids_before = set(sim.predictions)
    limit = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async with make_router(mode, shared_back_off=shared_back_off) as router:

        async def bounded(i: int) -> tuple[str | None, str | None, BaseException | None]:
            async with limit:
                return await _one_call(router, url, mode, i, timeout)

        results = await asyncio.gather(*(bounded(i) for i in range(calls)))

    # Every prediction this run made, grouped by the call that made it.
    by_call: dict[int, list[Any]] = collections.defaultdict(list)
    for pid, prediction in sim.predictions.items():
        if pid in ids_before:
            continue
        found = MARKER.search(str(prediction.input.get("prompt", "")))
        if found is None or found.group(1) != mode:
            figures.problems.append(f"prediction {pid} carries no marker of this run")
            continue
        by_call[int(found.group(2))].append(prediction)
    for i, (pid, text, error) in enumerate(results):
        if error is not None:
            name = type(error).__name__
            figures.errors[name] += 1
            if not isinstance(error, patchwire.PatchwireError):
                figures.problems.append(f"call {i}: untyped error {name}: {error!r}"[:300])
            elif not str(error).strip():
                figures.problems.append(f"call {i}: {name} without a message")
            continue
        figures.succeeded += 1
        prediction = sim.predictions.get(pid or "")
        if prediction is None or prediction not in by_call.get(i, []):
            figures.problems.append(f"call {i}: answered with prediction {pid}, which it did not make")
        elif text != "".join(prediction.chunks):
            figures.problems.append(f"call {i}: output differs from prediction {pid}'s")
        else:
            figures.outputs_verified += 1

    figures.created = sum(len(ps) for ps in by_call.values())
    figures.calls_with_prediction = len(by_call)
    figures.duplicates = sum(len(ps) - 1 for ps in by_call.values())
    for i, ps in by_call.items():
        if len(ps) > 1:
            figures.problems.append(f"call {i} made {len(ps)} predictions: {[p.id for p in ps]}")
    # Cancels of abandoned calls are best effort in the background: give them a bounded moment.
    await wait_until(lambda: sim.running() == 0, timeout=10.0)
    figures.orphans = sim.running()
    if figures.orphans:
        figures.problems.append(f"{figures.orphans} predictions still running after the calls ended")
    figures.faults = dict(collections.Counter(sim.stats.faults) - faults_before)
    figures.seconds = round(time.monotonic() - started, 2)
    return figures


async def soak(
    *,
    calls: int,
    modes: tuple[str, ...] = MODES,
    faults: Faults | None = None,
    latency: float = 0.02,
    tokens: int = 12,
    token_interval: float = 0.002,
    concurrency: int = 50,
    timeout: float = 60.0,
    shared_back_off: bool = True,
) -> list[SoakFigures]:
    """One simulator on 127.0.0.1 with ``faults``; ``calls`` calls per mode, one mode after another."""
    config = SimulatorConfig(
        latency=latency, tokens=tokens, token_interval=token_interval, faults=faults or soak_faults()
    )
    sim = ReplicateSimulator(config)
    out = []
    async with sim.serve("127.0.0.1", 0) as url:
        for mode in modes:
            out.append(
                await soak_mode(
                    sim,
                    url,
                    mode,
                    calls=calls,
                    concurrency=concurrency,
                    timeout=timeout,
                    shared_back_off=shared_back_off,
                )
            )
    if sim.stats.created != sum(f.created for f in out):
        out[-1].problems.append(
            f"the simulator created {sim.stats.created} predictions, the calls account for "
            f"{sum(f.created for f in out)}"
        )
    return out


def render(figures: list[SoakFigures]) -> str:
    lines = [
        f"{'mode':<7}{'calls':>6}{'ok':>6}{'verified':>9}{'errors':>8}{'created':>8}{'dupes':>6}"
        f"{'orphans':>8}{'secs':>7}  faults injected / errors by type"
    ]
    for f in figures:
        faults = ", ".join(f"{k}={v}" for k, v in sorted(f.faults.items())) or "none"
        errors = ", ".join(f"{k}={v}" for k, v in sorted(f.errors.items())) or "none"
        lines.append(
            f"{f.mode:<7}{f.calls:>6}{f.succeeded:>6}{f.outputs_verified:>9}{sum(f.errors.values()):>8}"
            f"{f.created:>8}{f.duplicates:>6}{f.orphans:>8}{f.seconds:>7}  {faults} / {errors}"
        )
    for f in figures:
        lines.extend(f"PROBLEM [{f.mode}] {p}" for p in f.problems[:20])
    lines.append("PASS" if not any(f.problems for f in figures) else "FAIL")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per mode (default 1000)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: wait,poll,stream")
    parser.add_argument("--concurrency", type=int, default=50, help="calls in flight (default 50)")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of the 429s (s)")
    parser.add_argument("--fault-scale", type=float, default=1.0, help="multiply every fault rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="each call's timeout= (s)")
    parser.add_argument("--no-shared-back-off", action="store_true", help="router without a RateGate")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    if not modes or set(modes) - set(MODES):
        parser.error(f"--modes takes some of {', '.join(MODES)}")
    figures = asyncio.run(
        soak(
            calls=args.calls,
            modes=modes,
            faults=soak_faults(args.retry_after, args.seed, args.fault_scale),
            concurrency=args.concurrency,
            timeout=args.timeout,
            shared_back_off=not args.no_shared_back_off,
        )
    )
    if args.json:
        print(json.dumps([f.as_dict() for f in figures], indent=2))
    else:
        print(render(figures))
    return 1 if any(f.problems for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
