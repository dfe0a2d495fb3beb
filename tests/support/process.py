"""An openlinq server in a process of its own, for tests of what a user sees: its output,
its logs, the installed command."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def serving(
    command: Sequence[str], *, port: int, env: Mapping[str, str], cwd: Path
) -> Iterator[subprocess.Popen[str]]:
    """Run ``command`` until ``/health`` answers on ``port``; stop it (SIGTERM) on exit.

    stdout and stderr are kept apart: read them with ``communicate()`` after the block.
    """
    process = subprocess.Popen(
        list(command),
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                out, err = process.communicate()
                raise AssertionError(f"the server exited ({process.returncode}):\n{out}\n{err}")
            assert time.monotonic() < deadline, "the server did not come up in 30 s"
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
