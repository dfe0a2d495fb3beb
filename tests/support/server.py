"""A real openlinq server for tests: uvicorn on a free port, in a background event loop.

The server and the test's direct service calls share one event loop (an anyio
blocking portal), so tests can provision accounts through the same services the
server uses while every API call still goes over real HTTP.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal

from openlinq.app import create_app
from openlinq.config import Settings
from openlinq.domain.clock import Clock, ManualClock
from openlinq.serving import uvicorn_config
from openlinq.wiring import Services, build_services

T = TypeVar("T")

# How long a test server may take to answer after it is started. Generous: on a loaded
# shared machine a server process needs well over 30 s to import and migrate (seen: the
# suite's own start-up checks failing there while the server was fine); a hung start-up is
# still cut off long before pytest's 120 s per test.
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    base_url: str
    services: Services
    portal: BlockingPortal

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a coroutine function on the server's event loop."""
        return self.portal.call(fn, *args)

    @property
    def sdk_base_url(self) -> str:
        return f"{self.base_url}/api/partner"


@contextmanager
def run_server(settings: Settings, clock: Clock | None = None) -> Iterator[RunningServer]:
    port = free_port()
    # The server hands out links to itself (uploads, downloads, vCards): give it its port.
    settings = settings.model_copy(update={"port": port})
    services = build_services(settings, clock)
    app = create_app(settings, services)
    # Served as `openlinq serve` serves: the same protocol, limits and timeouts.
    config = uvicorn_config(app, settings, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    with start_blocking_portal() as portal:
        serving = portal.start_task_soon(server.serve)
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            if serving.done():
                serving.result()  # raises what stopped the server
                raise RuntimeError("the test server exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test server did not start in {START_SECONDS} s")
            time.sleep(0.02)
        try:
            yield RunningServer(f"http://127.0.0.1:{port}", services, portal)
        finally:
            server.should_exit = True
            serving.result(timeout=30)


@contextmanager
def server_with(directory: Path, **overrides: Any) -> Iterator[RunningServer]:
    """A server of its own on a manual clock, with these settings overrides.

    Its files live under ``directory``: a fresh SQLite database there unless the
    overrides name a ``database_url``, and the data dir beside it.
    """
    defaults: dict[str, Any] = {
        "database_url": f"sqlite:///{directory / 'openlinq.db'}",
        "data_dir": directory / "data",
        "clock": "manual",
    }
    with run_server(Settings(**{**defaults, **overrides}), ManualClock()) as running:
        yield running
