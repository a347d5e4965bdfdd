"""Start an aiohttp server on a host and port and say where it answers: the proxy and the simulator
both serve this way."""

from __future__ import annotations

from aiohttp import web


async def start_site(runner: web.BaseRunner, host: str, port: int) -> str:
    """Listen with ``runner`` (set up already) on ``host:port`` (0: a free port) and return the base
    URL it answers on, an IPv6 address in brackets."""
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return f"http://{shown}:{bound_port}"
