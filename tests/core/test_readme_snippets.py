"""Every ``python`` snippet in the README runs as pasted — each in a fresh interpreter, as
``python -m asyncio`` runs a top-level ``await`` — against ``patchwire fake-replicate --version
custom-llm-version-id`` (started as a user would) with ``REPLICATE_API_KEY`` and ``REPLICATE_API_BASE``
exported, and the README's proxy config served for the snippets that talk to the proxy."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import announced_url_now

from patchwire.proxy import parse_config, serve_app

README = Path(__file__).resolve().parents[2] / "README.md"
TEXT = README.read_text()
SNIPPETS = re.findall(r"^```python\n(.*?)^```", TEXT, flags=re.DOTALL | re.MULTILINE)
#: What the README's snippets assume is listening there (the simulator; the proxy of its config).
SIMULATOR = "http://127.0.0.1:5000"
PROXY = "http://127.0.0.1:4000"
#: Runs a snippet the way ``python -m asyncio`` does: a top-level ``await`` is allowed.
RUNNER = """
import ast, asyncio, sys
source = open(sys.argv[1]).read()
code = compile(source, "README snippet", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
result = eval(code, {"__name__": "__main__"})
if asyncio.iscoroutine(result):
    asyncio.run(result)
"""
TOKENIZER_CONFIG = {
    "chat_template": "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}<|assistant|>",
    "bos_token": "<s>",
    "eos_token": "</s>",
}


def needs(snippet: str) -> str | None:
    """Why a snippet cannot run here (a service or package this machine lacks), or None."""
    if "patchwire.redis_limits" in snippet and importlib.util.find_spec("redis") is None:
        return "needs patchwire[redis] and a Redis server"
    return None


def label(snippet: str) -> str:
    first = next(line for line in snippet.splitlines() if line.strip() and not line.startswith("#"))
    return first[:40]


@pytest.fixture(scope="module")
def fake_replicate() -> Iterator[str]:
    """``patchwire fake-replicate --port 0 --version custom-llm-version-id``, as a user starts it: one
    for all the snippets (each only makes calls to it), since starting one costs about a second."""
    command = [sys.executable, "-m", "patchwire", "fake-replicate", "--port", "0"]
    with subprocess.Popen([*command, "--version", "custom-llm-version-id"], stdout=subprocess.PIPE) as proc:
        try:
            yield announced_url_now(proc)
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture
async def proxy(fake_replicate: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """The README's config.yaml served, its models pointed at the simulator by REPLICATE_API_BASE."""
    block = re.search(r"^```yaml\n# config.yaml\n(.*?)^```", TEXT, flags=re.DOTALL | re.MULTILINE)
    assert block is not None
    for name, value in (("REPLICATE_API_KEY", "r8_test"), ("PROXY_KEY", "sk-1234"), ("TEAM_KEY", "sk-5")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REPLICATE_API_BASE", fake_replicate)
    config = parse_config(yaml.safe_load(block.group(1)), source="README config.yaml")
    async with serve_app(config, host="127.0.0.1", port=0) as url:
        yield url


def test_the_readme_has_the_snippets_this_test_expects() -> None:
    assert len(SNIPPETS) >= 12
    assert any("text_completion" in s for s in SNIPPETS)
    assert any("custom-llm-version-id" in s for s in SNIPPETS)


@pytest.mark.slow  # a fresh interpreter per snippet: about 20 s in all
@pytest.mark.parametrize("snippet", SNIPPETS, ids=[label(s) for s in SNIPPETS])
async def test_readme_snippet_runs_as_pasted(
    snippet: str, fake_replicate: str, proxy: str, tmp_path: Path
) -> None:
    reason = needs(snippet)
    if reason is not None:
        pytest.skip(reason)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG))
    path = tmp_path / "snippet.py"
    path.write_text(snippet.replace(SIMULATOR, fake_replicate).replace(PROXY, proxy))
    env: dict[str, Any] = {
        **os.environ,
        "REPLICATE_API_KEY": "r8_test",
        "REPLICATE_API_BASE": fake_replicate,
        "PATCHWIRE_LOG": "",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUNNER,
        str(path),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    with contextlib.suppress(ProcessLookupError):
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"{err.decode()}\n--- snippet ---\n{snippet}"
