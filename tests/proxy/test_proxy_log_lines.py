"""The log lines of ``patchwire serve`` name their logger once (a real process, a real simulator, a
real client): patchwire's messages say "patchwire: ..." so that a program with no logging set up still
shows whose they are, and the proxy's format, which prints the logger's name, must not say it twice."""

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


async def test_a_proxy_log_line_has_one_prefix(start_simulator: Any, tmp_path: Path) -> None:
    running = await start_simulator(tokens=3)
    config = llama3_proxy_config(
        running.url, params={"drop_params": True}, general_settings={"master_key": "sk-logs"}
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "patchwire", "serve", "--config", str(path), "--port", "0"),
        env={**os.environ, "PATCHWIRE_LOG": ""},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = await announced_url(proc)
        # A parameter the model does not take, dropped (drop_params) with a warning.
        body = {"model": "llama-3", "messages": [{"role": "user", "content": "Hi"}], "frobnicate": 1}
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{url}/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-logs"}
            ) as resp,
        ):
            assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    lines = err_bytes.decode().splitlines()
    (dropped,) = [line for line in lines if "frobnicate" in line]
    assert re.fullmatch(r"\S+ \S+ WARNING patchwire: dropped 'frobnicate': \S+ has no such input.*", dropped)
    assert not [line for line in lines if "patchwire: patchwire" in line]
