"""``patchwire serve`` receiving SIGTERM with a request still running after the grace period: the
client gets an OpenAI-shaped 503, not a closed connection, and the prediction is cancelled upstream."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson
import yaml
from support import StartSimulator, announced_url, llama3_proxy_config, wait_for


async def test_sigterm_answers_in_flight_requests_503(
    start_simulator: StartSimulator, tmp_path: Path
) -> None:
    running = await start_simulator(latency=60.0)
    config = tmp_path / "proxy.yaml"
    config.write_text(yaml.safe_dump(llama3_proxy_config(running.url)))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "patchwire", "serve", "--config", str(config), "--port", "0", "--grace", "0.5",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        url = await announced_url(proc)
        body = {"model": "llama-3", "messages": [{"role": "user", "content": "hi"}]}
        async with aiohttp.ClientSession() as http:
            request = asyncio.create_task(http.post(f"{url}/v1/chat/completions", json=body))
            await wait_for(lambda: len(running.sim.predictions) == 1, timeout=20)
            proc.send_signal(signal.SIGTERM)
            async with await asyncio.wait_for(request, 30) as resp:
                assert resp.status == 503
                error = orjson.loads(await resp.read())["error"]
        assert error["type"] == "service_unavailable_error" and error["code"] == "shutting_down"
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        await wait_for(lambda: running.sim.running() == 0, timeout=20)
        (prediction,) = running.sim.predictions.values()
        assert prediction.status() == "canceled"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
