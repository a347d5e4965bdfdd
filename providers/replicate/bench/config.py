"""What one ``patchwire bench`` run does: the workload, the simulator's behaviour, the sides measured.

Parsed from the command line once, checked here, so every mistake is a ``ConfigError`` that names the
option and says what to write instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from patchwire.errors import ConfigError

MODEL = "replicate/meta/meta-llama-3-8b-instruct"
MESSAGES: tuple[Mapping[str, str], ...] = (
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write one sentence about the sea."},
)
MODES = ("wait", "poll", "stream")
SIDES = ("baseline", "patchwire", "litellm")

#: ``--faults`` names -> the simulator's ``--fault-*`` flags.
FAULT_FLAGS = {
    "429": "--fault-429",
    "5xx": "--fault-5xx",
    "drop": "--fault-drop",
    "cut": "--fault-cut-stream",
    "cut_stream": "--fault-cut-stream",
    "lost": "--fault-drop-after-create",
    "drop_after_create": "--fault-drop-after-create",
    "hang": "--fault-hang",
    "fail": "--fault-fail",
}


@attrs.frozen(kw_only=True)
class BenchConfig:
    requests: int = 400
    concurrency: tuple[int, ...] = (100,)
    mode: str = "wait"
    latency: float = 0.05
    tokens: int = 16
    token_interval: float = 0.0
    cold_boot: float = 0.0
    faults: Mapping[str, float] = attrs.field(factory=dict)
    retry_after: float = 1.0
    seed: int = 0
    api_base: str | None = None
    compare: tuple[str, ...] = ()
    repeat: int = 3
    connections: int = 1000
    #: Seconds one side's whole run may take before it is stopped (each prediction gets as long).
    time_limit: float = 300.0
    loop: str = "auto"
    progress: bool = True

    @property
    def sides(self) -> tuple[str, ...]:
        return ("baseline", "patchwire", *self.compare)

    @property
    def uses_simulator(self) -> bool:
        return self.api_base is None


def parse_concurrency(text: str) -> tuple[int, ...]:
    """``"100"`` or a sweep ``"1,10,100,1000"``."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"--concurrency {text!r}: write one number or a comma-separated sweep such as 1,10,100"
        ) from None
    if not values or any(v < 1 for v in values):
        raise ConfigError(f"--concurrency {text!r}: every value must be at least 1")
    return values


def parse_faults(text: str) -> tuple[dict[str, float], float]:
    """``"429=0.1,5xx=0.05,drop=0.05,cut=0.05[,retry_after=0.2]"`` -> (rates by name, Retry-After)."""
    rates: dict[str, float] = {}
    retry_after = 1.0
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or number < 0:
            raise ConfigError(f"--faults: {part!r} must look like NAME=RATE, e.g. 429=0.1")
        if name == "retry_after":
            retry_after = number
            continue
        if name not in FAULT_FLAGS:
            names = ", ".join(sorted(FAULT_FLAGS))
            raise ConfigError(f"--faults: unknown fault {name!r}; use one of {names}, retry_after")
        if number > 1:
            raise ConfigError(f"--faults: {name}={value} is a probability; use a value from 0 to 1")
        rates[name] = number
    if sum(rates.values()) > 1:
        raise ConfigError("--faults: the rates add up to more than 1; lower them")
    return rates, retry_after


def check(config: BenchConfig) -> BenchConfig:
    if config.requests < 1:
        raise ConfigError("--requests must be at least 1")
    if config.mode not in MODES:
        raise ConfigError(f"--mode {config.mode!r}: use one of {', '.join(MODES)}")
    for side in config.compare:
        if side != "litellm":
            raise ConfigError(f"--compare {side!r}: only 'litellm' can be compared")
    if config.latency < 0 or config.token_interval < 0 or config.cold_boot < 0:
        raise ConfigError("--latency, --token-interval and --cold-boot must not be negative")
    if config.tokens < 1:
        raise ConfigError("--tokens must be at least 1")
    if config.repeat < 1:
        raise ConfigError("--repeat must be at least 1")
    if config.connections < 1:
        raise ConfigError("--connections must be at least 1")
    if config.loop not in ("auto", "asyncio", "uvloop"):
        raise ConfigError("--loop: use auto, asyncio or uvloop")
    return config


def simulator_args(config: BenchConfig) -> list[str]:
    """The simulator's command-line flags for this run."""
    args = [
        "--latency",
        repr(config.latency),
        "--tokens",
        str(config.tokens),
        "--token-interval",
        repr(config.token_interval),
        "--cold-boot",
        repr(config.cold_boot),
        "--seed",
        str(config.seed),
        "--retry-after",
        repr(config.retry_after),
    ]
    for name, rate in config.faults.items():
        args += [FAULT_FLAGS[name], repr(rate)]
    return args


def describe(config: BenchConfig) -> dict[str, Any]:
    """The run's settings as they appear in the JSON report."""
    return {
        "model": MODEL,
        "requests": config.requests,
        "concurrency": list(config.concurrency),
        "mode": config.mode,
        "latency": config.latency,
        "tokens": config.tokens,
        "token_interval": config.token_interval,
        "cold_boot": config.cold_boot,
        "faults": dict(config.faults),
        "seed": config.seed,
        "endpoint": "simulator (child process)" if config.uses_simulator else "api_base",
        "repeat": config.repeat,
        "connections": config.connections,
    }
