"""An openlinq server inside the test process: real HTTP on a free loopback port,
SQLite in a directory of its own, a manual clock.

It runs uvicorn on an event loop in a background thread, so tests (synchronous
or not) talk to it over HTTP exactly as they would to an external server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ServerInfo:
    base_url: str  # http://127.0.0.1:PORT: /sim/v1 lives here
    operator_key: str | None = None
    started_in: float = 0.0  # seconds from start() to the first answer

    @property
    def sdk_base_url(self) -> str:
        """What the SDKs take as LINQ_API_V3_BASE_URL."""
        return f"{self.base_url}/api/partner"


@contextmanager
def _running(server: Any, name: str) -> Iterator[None]:
    """Run a ``uvicorn.Server`` in a daemon thread (its own event loop) for the block."""
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"{name} exited during start-up (see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start in {START_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.005)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def serve_app(app: Any, *, name: str = "agent") -> Iterator[str]:
    """Serve an ASGI app (your agent) with uvicorn on a free loopback port, lifespan
    included; yields its base URL and stops it when the block ends."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False
    )
    with _running(uvicorn.Server(config), name):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def in_process_server(directory: Path, **settings: Any) -> Iterator[ServerInfo]:
    """A fresh openlinq (SQLite under ``directory``, manual clock) until the block ends."""
    import uvicorn

    from openlinq.app import create_app
    from openlinq.config import Settings
    from openlinq.serving import uvicorn_config
    from openlinq.wiring import build_services

    began = time.perf_counter()
    defaults: dict[str, Any] = {
        "database_url": f"sqlite:///{directory / 'openlinq.db'}",
        "data_dir": directory / "data",
        "clock": "manual",
        "port": free_port(),
        "log_level": "warning",
        # A hanging agent endpoint costs a test two seconds, not ten.
        "webhook_timeout_seconds": 2.0,
    }
    config = Settings(**{**defaults, **settings})
    app = create_app(config, build_services(config))
    server = uvicorn.Server(uvicorn_config(app, config, log_level="warning", lifespan="on"))
    with _running(server, "openlinq-test-server"):
        yield ServerInfo(
            f"http://127.0.0.1:{config.port}",
            config.operator_api_key,
            started_in=time.perf_counter() - began,
        )
