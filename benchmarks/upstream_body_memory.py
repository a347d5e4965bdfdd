"""Peak memory of one call whose upstream answers a huge body, with the response cap and without it.

    python benchmarks/upstream_body_memory.py [--mb 200]

Each side runs in its own process (peak RSS is per process); the hostile upstream is a local aiohttp
server in that process streaming ``--mb`` MB of JSON that never ends. "capped" is the default
``patchwire.http.MAX_RESPONSE_BYTES`` (16 MiB); "uncapped" raises it out of reach, which is what every
call did before the cap.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time


async def one_call(mb: int, capped: bool) -> None:
    from aiohttp import web

    import patchwire
    import patchwire.http

    if not capped:
        patchwire.http.MAX_RESPONSE_BYTES = 1 << 40

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(mb):
                await response.write(chunk)
        except ConnectionError:
            pass
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", huge)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    outcome = "ok"
    async with patchwire.Router() as router:
        try:
            await router.acompletion(
                "replicate/a/b", [{"role": "user", "content": "hi"}], api_key="r8_x", api_base=url, timeout=30
            )
        except patchwire.PatchwireError as exc:
            outcome = type(exc).__name__
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    await runner.cleanup()
    side = "capped" if capped else "uncapped"
    print(
        f"{side:9} peak RSS {before / 1024:5.0f} MB -> {peak / 1024:5.0f} MB  "
        f"{time.monotonic() - started:6.2f}s  {outcome}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--side", choices=("capped", "uncapped"))
    args = parser.parse_args()
    if args.side:
        asyncio.run(one_call(args.mb, args.side == "capped"))
        return
    print(f"one call, upstream body {args.mb} MB (the upstream shares the process)")
    for side in ("capped", "uncapped"):
        subprocess.run([sys.executable, __file__, "--mb", str(args.mb), "--side", side], check=True)


if __name__ == "__main__":
    main()
