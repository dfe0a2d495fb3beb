"""How openlinq is served over HTTP: uvicorn, with the connection limits a server facing
careless or hostile clients needs, in one process or several.

uvicorn 0.54 times out idle keep-alive connections (``timeout_keep_alive``) and can bound
concurrent connections (``limit_concurrency``), but a connection that never finishes its
request head is kept open forever (a slow-loris client holds one socket per connection
with a byte every few seconds), and its over-limit answer is a text/plain 503. The
protocol below adds a header deadline and answers the limit with the Linq body.

``serve --workers N`` runs N API processes under uvicorn's own supervisor (``serve_processes``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from openlinq.api.errors import error_response
from openlinq.config import Settings
from openlinq.domain.errors import ErrorCode, LinqError

if TYPE_CHECKING:
    from fastapi import FastAPI

GRACEFUL_SHUTDOWN_SECONDS = 5
# How long ``serve --workers N`` waits for each API process to finish starting.
PROCESS_START_SECONDS = 60

_OVERLOADED = LinqError(
    ErrorCode.SERVER_CONNECTION_ERROR,
    "the server is at its connection limit; retry shortly",
    retry_after=1,
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request head."""

    header_timeout: float = 10.0

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if isinstance(config, OpenlinqConfig):
            self.header_timeout = config.header_timeout
        self.header_timer: asyncio.TimerHandle | None = None
        # The limit is enforced by _limited (Linq-shaped 503), not by uvicorn's text one.
        self.connection_limit = self.limit_concurrency
        self.limit_concurrency = None
        self.app = self._limited(self.app)

    def _limited(self, app: Any) -> Any:
        async def limited(scope: Any, receive: Any, send: Any) -> None:
            limit = self.connection_limit
            # This connection and this request's task are already counted.
            if limit is not None and (len(self.connections) > limit or len(self.tasks) > limit):
                await error_response(_OVERLOADED)(scope, receive, send)
                return
            await app(scope, receive, send)

        return limited

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._await_head()  # the next request head has begun (or not yet)
        else:
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        """Start the clock for a request head, unless it is already running."""
        if self.header_timer is None and not self.transport.is_closing():
            self.header_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _head_timed_out(self) -> None:
        self.header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class OpenlinqConfig(uvicorn.Config):
    """uvicorn's configuration and the request-head deadline of ``GuardedH11Protocol``.

    Every part of it pickles (the protocol is a module-level class), so the API processes
    of ``serve --workers N`` receive it whole.
    """

    def __init__(self, app: Any, *, header_timeout: float, **options: Any) -> None:
        super().__init__(app, **options)
        self.header_timeout = header_timeout


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration of ``openlinq serve`` (and of the test servers)."""
    return OpenlinqConfig(
        app,
        header_timeout=settings.header_timeout_seconds,
        host=settings.host,
        port=settings.port,
        http=GuardedH11Protocol,
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections,
        # Console pages hold a live-update stream open; shutdown must not wait for them.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Our access log (api/access_log.py) replaces uvicorn's, and uvicorn's own lines go
        # through the handler logs.configure_logging installs (text or JSON alike).
        **{"log_level": settings.log_level, "access_log": False, "log_config": None, **options},
    )


def api_process_app(settings: Settings) -> FastAPI:
    """The application of one API process of ``serve --workers N`` (called in that process).

    The supervisor has migrated the database and printed the banner already.
    """
    from openlinq.app import create_app
    from openlinq.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    # As in one process: our access line (api/access_log.py), not uvicorn's as well.
    logging.getLogger("uvicorn.access").propagate = False
    return create_app(settings, migrate=False)


def serve_processes(settings: Settings, sock: socket.socket, on_ready: Callable[[], None]) -> bool:
    """Serve on ``sock`` from ``settings.workers`` API processes until SIGINT or SIGTERM.

    uvicorn's supervisor starts each process afresh (spawn) with the listening socket,
    replaces one that dies, restarts them one by one on SIGHUP and, on SIGINT or SIGTERM,
    passes SIGTERM on and waits for each to finish its requests. The kernel hands each
    new connection to whichever process accepts it first, so a busy process takes fewer.
    ``on_ready`` runs once every process answers. False when a process could not start
    (the supervisor then stops them all).
    """
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess

    class Supervisor(Multiprocess):
        def init_processes(self) -> None:
            super().init_processes()
            if all(
                p.wait_until_ready(PROCESS_START_SECONDS, self.should_exit) for p in self.processes
            ):
                on_ready()

    config = uvicorn_config(
        functools.partial(api_process_app, settings),
        settings,
        factory=True,
        workers=settings.workers,
    )
    supervisor = Supervisor(config, sockets=[sock])
    supervisor.run()
    return all(p.exitcode != STARTUP_FAILURE for p in supervisor.processes)
