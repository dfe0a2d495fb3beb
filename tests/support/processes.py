"""openlinq as real operating-system processes, for crash and multi-process tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from linq import LinqAPIV3

from tests.support.server import START_SECONDS, free_port


class OpenlinqProcess:
    """``python -m openlinq serve`` (or ``worker``) with its own environment."""

    def __init__(self, command: str, data_dir: Path, **settings: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "OPENLINQ_DATA_DIR": str(data_dir),
            "OPENLINQ_PORT": str(self.port),
            "OPENLINQ_LOG_LEVEL": "warning",
            **{f"OPENLINQ_{name.upper()}": value for name, value in settings.items()},
        }
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, start_seconds: float = START_SECONDS) -> OpenlinqProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openlinq", self.command],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if self.command == "serve":
            self._wait_for_health(start_seconds)
        return self

    def _wait_for_health(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"openlinq {self.command} exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"openlinq did not come up in {seconds} s")

    def get_json(self, path: str, api_key: str, **params: Any) -> Any:
        """GET ``path`` as the holder of ``api_key``; it must answer 200."""
        response = httpx.get(
            f"{self.base_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def serve_to_be_killed(data_dir: Path, database_url: str, api_key: str) -> OpenlinqProcess:
    """``openlinq serve``, started, for tests that SIGKILL it and start it again."""
    return OpenlinqProcess(
        "serve",
        data_dir,
        database_url=database_url,
        dev_api_key=api_key,
        webhook_timeout_seconds="2",
        job_lease_seconds="3",  # PostgreSQL: a dead server's claimed jobs return after 3 s
    ).start()


def wait_until(condition: object, timeout: float, what: str) -> None:
    """Poll ``condition()`` (bounded) while background work completes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def subscribe_and_send(
    client: LinqAPIV3, target_url: str, events: Any, count: int, first: int
) -> tuple[Any, list[str]]:
    """Subscribe ``target_url`` to ``events``, then open ``count`` chats from the first line
    to plain iPhones (+1628556<first + n>: delivered at once); the subscription and the
    first message ids."""
    subscription = client.webhook_subscriptions.create(
        target_url=target_url, subscribed_events=events
    )
    line = client.phone_numbers.list().phone_numbers[0].phone_number
    ids = [
        client.chats.create(
            from_=line,
            to=[f"+1628556{first + n}"],
            message={"parts": [{"type": "text", "value": f"m{n}"}]},
        ).chat.message.id
        for n in range(count)
    ]
    return subscription, ids
