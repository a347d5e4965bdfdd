"""The Replicate plugin: the ``replicate`` provider and the ``patchwire fake-replicate`` command."""

from __future__ import annotations

import argparse
from typing import Any

from patchwire.hookspecs import hookimpl

from .provider import ReplicateProvider

#: One provider per process: it keeps per-model caches and the ids of predictions in flight.
PROVIDER = ReplicateProvider()


@hookimpl
def patchwire_providers() -> list[Any]:
    return [PROVIDER]


@hookimpl
def patchwire_register_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from . import simulator  # aiohttp.web is only imported when the CLI is built

    parser = subparsers.add_parser(
        "fake-replicate",
        help="run a local simulator of Replicate's API (for offline tests and demos)",
        description=(simulator.__doc__ or "").split("\n\n")[0],
    )
    simulator.add_arguments(parser)
    parser.set_defaults(func=_run_simulator)


def _run_simulator(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import logging

    from . import simulator

    logging.basicConfig(level=args.log_level.upper())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(simulator.run_forever(simulator.config_from_args(args), args.host, args.port))
    return 0
