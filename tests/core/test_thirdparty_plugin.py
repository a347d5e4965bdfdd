"""A third-party plugin, installed like any package, changes patchwire with no change to patchwire.

examples/patchwire-vicuna is built and installed with pip into a directory of its own; a fresh Python
process with that directory on its path finds the plugin through its entry point, lists it in
``patchwire plugins``, and formats vicuna calls with it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import RunningSimulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "patchwire-vicuna"
VICUNA = "replicate/vicuna-13b:6282abe6a492de4145d7bb601023762212f9ddbbe78278bd6771c8b3b2f2a13b"
PREAMBLE = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

CALL = textwrap.dedent(
    """
    import asyncio, sys
    import patchwire

    async def main():
        response = await patchwire.acompletion(
            model=sys.argv[1],
            messages=[{"role": "user", "content": "Hello, how are you?"}],
            api_base=sys.argv[2],
            max_tokens=40,
        )
        print(response.choices[0].message.content)

    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package, installed with pip into a directory of its own."""
    root = tmp_path_factory.mktemp("thirdparty")
    source = shutil.copytree(EXAMPLE, root / "src")  # the build writes egg-info beside the sources
    target = root / "site"
    # Offline and without build isolation: the build uses this interpreter's setuptools and wheel.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert list(target.glob("patchwire_vicuna-0.1.0.dist-info/entry_points.txt"))
    return target


def env_with(site: Path | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATCHWIRE_", "REPLICATE_"))}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def test_patchwire_plugins_lists_the_installed_plugin(site: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "patchwire", "plugins"],
        env=env_with(site), capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert "patchwire-vicuna:vicuna" in out and "patchwire-vicuna 0.1.0 [third-party]" in out
    assert "  vicuna                   */vicuna-*, vicuna-*\n" in out
    # Without the package on the path it is not there: the listing reflects what is installed.
    bare = subprocess.run(
        [sys.executable, "-m", "patchwire", "plugins"], env=env_with(None), capture_output=True, text=True
    ).stdout
    assert "vicuna" not in bare


async def test_acompletion_uses_the_plugins_format(
    site: Path, simulator: RunningSimulator, replicate_key: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CALL, VICUNA, simulator.url,
        env=env_with(site, REPLICATE_API_KEY=replicate_key),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert stdout.strip()
    (prediction,) = simulator.sim.predictions.values()
    assert prediction.input == {
        "prompt": f"{PREAMBLE} USER: Hello, how are you? ASSISTANT:",
        "max_length": 40,
    }
