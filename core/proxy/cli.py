"""``patchwire serve --config config.yaml``: run the proxy until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from patchwire.debug import set_verbose
from patchwire.errors import ConfigError
from patchwire.proxy.app import DEFAULT_GRACE, serve_app
from patchwire.proxy.config import load_config

log = logging.getLogger("patchwire.proxy")


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "serve",
        help="run the OpenAI-compatible proxy from a config file",
        description="Serve /v1/chat/completions, /v1/models and /health for the models in a config file.",
    )
    p.add_argument("--config", required=True, help="the YAML config (model_list, general_settings, ...)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4000, help="port to listen on (default 4000; 0: any free)")
    # A distinct dest: the top-level --debug shares the name, and a subparser default would overwrite it.
    p.add_argument("--debug", dest="serve_debug", action="store_true", help="log at DEBUG level")
    p.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="serve on a non-loopback host without any API key configured",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE,
        help=f"seconds in-flight requests get to finish on shutdown (default {DEFAULT_GRACE:g})",
    )
    p.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    debug = bool(args.serve_debug or getattr(args, "debug", False))
    logging.getLogger().setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("patchwire.proxy").setLevel(logging.DEBUG if debug else logging.INFO)
    if debug:
        set_verbose(True)  # every request to the provider as a curl command, the key redacted
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"patchwire serve: {exc}\n")
        return 2
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(_serve(config, args))
    except ConfigError as exc:
        sys.stderr.write(f"patchwire serve: {exc}\n")
        return 2
    except OSError as exc:  # port in use, address not available
        sys.stderr.write(
            f"patchwire serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n"
        )
        return 1


async def _serve(config: Any, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    async with serve_app(
        config,
        host=args.host,
        port=args.port,
        grace=args.grace,
        allow_unauthenticated=args.allow_unauthenticated,
    ) as url:
        models = ", ".join(config.routes)
        sys.stdout.write(f"patchwire proxy listening on {url} (models: {models})\n")
        sys.stdout.write(f"OpenAI clients: base_url={url}/v1\n")
        sys.stdout.flush()
        await stop.wait()
        log.info("stopping: no new connections; finishing requests in flight (up to %gs)", args.grace)
    return 0


def _loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
