"""Debug output as LiteLLM users know it: each request to Replicate printed as a runnable curl command,
the key redacted; ``set_verbose``, ``PATCHWIRE_LOG=debug`` and the README's paragraph in a fresh
interpreter."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from support import TEST_KEY

import patchwire
from patchwire.debug import curl_command, redact

README = Path(__file__).resolve().parents[2] / "README.md"
USER: Any = [{"role": "user", "content": "Hello, how are you?"}]


def readme_debugging_snippet() -> str:
    text = README.read_text()
    section = text[text.index("**Debugging.**") :]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


async def run_python(code: str, env: dict[str, str]) -> tuple[int, str, str]:
    """A fresh interpreter (its own logging state) running ``code``; the test's loop keeps serving."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def test_redaction_keeps_at_most_the_last_four_characters() -> None:
    assert redact(TEST_KEY) == "r8_…cdef"
    assert redact("r8_short") == "r8_…rt"  # a short key shows less of itself
    assert redact("abc") == "…"
    command = curl_command("POST", "http://h/v1/x", {"Authorization": f"Bearer {TEST_KEY}"}, b"{}")
    assert TEST_KEY not in command and "Bearer r8_…cdef" in command


async def test_readme_debugging_paragraph_prints_curl_in_a_fresh_interpreter(start_simulator: Any) -> None:
    running = await start_simulator(tokens=3, api_keys={TEST_KEY})
    code = readme_debugging_snippet().replace("http://127.0.0.1:5000", running.url)
    code += "\nprint('ANSWER', response.choices[0].message.content)\n"
    status, out, err = await run_python(code, {"REPLICATE_API_KEY": TEST_KEY, "PATCHWIRE_LOG": ""})
    assert status == 0, err
    assert "ANSWER" in out
    assert "curl -X POST" in err and "Bearer r8_…cdef" in err
    (prediction,) = running.sim.predictions.values()
    assert re.search(rf"-> 201 prediction {prediction.id} in \d+\.\d+s", err)
    assert TEST_KEY not in err + out


async def test_patchwire_log_environment_variable_turns_it_on(start_simulator: Any) -> None:
    running = await start_simulator(tokens=3)
    model = "replicate/meta/meta-llama-3-8b-instruct"
    code = f"import patchwire\npatchwire.completion({model!r}, {USER!r}, api_base={running.url!r})\n"
    _, _, quiet = await run_python(code, {"REPLICATE_API_KEY": TEST_KEY, "PATCHWIRE_LOG": ""})
    assert "curl" not in quiet
    status, _, err = await run_python(code, {"REPLICATE_API_KEY": TEST_KEY, "PATCHWIRE_LOG": "debug"})
    assert status == 0, err
    assert "curl -X POST" in err and TEST_KEY not in err


async def test_printed_curl_makes_the_same_request_and_is_refused_for_the_redacted_key(
    start_simulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_simulator(tokens=3, api_keys={TEST_KEY})
    sim = running.sim
    patchwire.set_verbose = True
    try:
        assert patchwire.set_verbose is True
        with caplog.at_level(logging.DEBUG, logger="patchwire"):
            async with patchwire.Router() as router:
                await router.acompletion(
                    "replicate/meta/meta-llama-3-8b-instruct", USER, api_base=running.url, api_key=TEST_KEY
                )
    finally:
        patchwire.set_verbose = False
    assert patchwire.set_verbose is False
    assert TEST_KEY not in caplog.text
    commands = [line for line in caplog.text.splitlines() if line.startswith("curl -X POST")]
    (command,) = commands
    (original,) = [r for r in sim.requests if r.method == "POST"]
    refused_before = sim.stats.unauthenticated

    proc = await asyncio.create_subprocess_shell(
        command + " -s -o /dev/null -w '%{http_code}'", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert out.decode() == "401"
    assert sim.stats.unauthenticated == refused_before + 1
    replay = [r for r in sim.requests if r.method == "POST"][-1]
    assert replay is not original
    assert replay.path == original.path
    for header in ("Content-Type", "Prefer", "Cancel-After"):
        assert replay.headers[header] == original.headers[header]
    # The body curl would send is the body that was sent.
    words = shlex.split(command)
    body = orjson.loads(words[words.index("-d") + 1])
    (prediction,) = sim.predictions.values()
    assert body["input"] == prediction.input
