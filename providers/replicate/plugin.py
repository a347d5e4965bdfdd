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
    from .simulator import cli  # aiohttp.web is only imported when the CLI is built

    parser = subparsers.add_parser(
        "fake-replicate",
        help="run a local simulator of Replicate's API (for offline tests and demos)",
        description=cli.DESCRIPTION,
    )
    cli.build_parser(parser)
