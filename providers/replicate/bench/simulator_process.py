"""The simulator the benchmark talks to, in a child process of its own.

A child process, not a task in the client's loop: the client's CPU time and RSS are then the client's
alone, and the server does not compete with the client for one GIL and one event loop (on a machine
with two or more cores the two really run side by side).
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from types import TracebackType

from patchwire.errors import ConfigError

#: How long the child may take to print its URL.
START_TIMEOUT = 30.0
LISTENING = "listening on "


class SimulatorProcess:
    """``with SimulatorProcess(args) as url:`` runs ``python -m ...simulator --port 0 <args>``."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> str:
        cmd = [sys.executable, "-m", "patchwire.providers.replicate.simulator", "--port", "0", *self.args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        self._pin(self.proc.pid)
        try:
            self.url = self._read_url(self.proc)
        except BaseException:
            self.close()
            raise
        return self.url

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
        if self._parent_cpus is not None:
            os.sched_setaffinity(0, self._parent_cpus)

    _parent_cpus: set[int] | None = None

    def _pin(self, pid: int) -> None:
        """Simulator on the last CPU, this process and the workers it starts on the others: on a small
        machine the two otherwise steal each other's core at random, and run-to-run spread swamps the
        ratios being measured."""
        if not hasattr(os, "sched_setaffinity"):
            return
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return
        self._parent_cpus = set(cpus)
        os.sched_setaffinity(pid, {cpus[-1]})
        os.sched_setaffinity(0, set(cpus[:-1]))

    @staticmethod
    def _read_url(proc: subprocess.Popen[str]) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                break
            line = proc.stdout.readline()
            if not line:  # the child exited
                break
            if LISTENING in line:
                return line.split(LISTENING, 1)[1].strip()
        raise ConfigError(
            "the Replicate simulator did not start (no URL within "
            f"{START_TIMEOUT:g}s, exit code {proc.poll()}); run "
            "`python -m patchwire.providers.replicate.simulator --port 0` to see why"
        )

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
