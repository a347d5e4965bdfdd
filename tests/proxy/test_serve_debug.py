"""``patchwire serve --debug`` prints each request the proxy sends to Replicate as a curl command, the
key redacted (a real process, a real simulator, a real client)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from support import announced_url, llama3_proxy_config

REPLICATE_KEY = "r8_serve-debug-0123456789"


async def test_serve_debug_prints_curl_commands_with_the_key_redacted(
    start_simulator: Any, tmp_path: Path
) -> None:
    running = await start_simulator(tokens=3, api_keys={REPLICATE_KEY})
    config = llama3_proxy_config(
        running.url, api_key="os.environ/REPLICATE_API_KEY", general_settings={"master_key": "sk-debug"}
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "patchwire",
        "serve",
        "--config",
        str(path),
        "--port",
        "0",
        "--debug",
        env={**os.environ, "REPLICATE_API_KEY": REPLICATE_KEY, "PATCHWIRE_LOG": ""},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = await announced_url(proc)
        body = {"model": "llama-3", "messages": [{"role": "user", "content": "Hello"}]}
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{url}/v1/chat/completions",
                json=body,
                headers={"Authorization": "Bearer sk-debug"},
            ) as resp,
        ):
            assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    err = err_bytes.decode()
    assert re.search(r"curl -X POST \S+/v1/models/meta/meta-llama-3-8b-instruct/predictions", err)
    assert "Bearer r8_…6789" in err
    assert REPLICATE_KEY not in err
    (prediction,) = running.sim.predictions.values()
    assert f"prediction {prediction.id}" in err
