"""An openlinq server in a process of its own, for tests of what a user sees: its output,
its logs, the installed command."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.server import START_SECONDS


@dataclass
class Served:
    process: subprocess.Popen[str]
    stdout: str = ""  # what it printed, once it has stopped
    stderr: str = ""


@contextmanager
def serving(
    command: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    cwd: Path,
    start_seconds: float = START_SECONDS,
) -> Iterator[Served]:
    """Run ``command`` until ``/health`` answers on ``port`` (within ``start_seconds``);
    stop it (SIGTERM) on exit.

    Its output (stdout and stderr apart) is on the yielded ``Served`` after the block.
    """
    process = subprocess.Popen(
        list(command),
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(process)
    try:
        _wait_for_health(served, port, start_seconds)
        yield served
    finally:
        if process.poll() is None:
            process.terminate()
        if process.stdout is not None and not process.stdout.closed:  # not yet read
            served.stdout, served.stderr = process.communicate(timeout=30)


def _wait_for_health(served: Served, port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if served.process.poll() is not None:
            out, err = served.process.communicate()
            served.stdout, served.stderr = out, err
            raise AssertionError(f"the server exited ({served.process.returncode}):\n{out}\n{err}")
        assert time.monotonic() < deadline, f"the server did not come up in {seconds} s"
        time.sleep(0.05)
