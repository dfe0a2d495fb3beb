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
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from openlinq.api.errors import error_response
from openlinq.config import Settings
from openlinq.domain.errors import ErrorCode, LinqError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from uvicorn.supervisors.multiprocess import Multiprocess

GRACEFUL_SHUTDOWN_SECONDS = 5
# How long a SIGHUP restart waits for each new API process before it gives up. Each imports
# the whole server: 30 s at a load average of 10 on a 2-core machine.
PROCESS_START_SECONDS = 300

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


# The listening socket a server started by ``exec_server`` inherits (its descriptor number).
SOCKET_VARIABLE = "OPENLINQ_LISTEN_FD"


def exec_server(flags: Mapping[str, object], sock: socket.socket) -> NoReturn:
    """Become the server: replace this interpreter with one that loads only what serving needs.

    The CLI has typer, click and rich loaded (~10 MiB resident that a server would keep
    for its whole life); ``openlinq.server_main`` starts without them. The process keeps
    its PID, so a supervisor's signals and Ctrl-C reach the server as before. The flags
    travel as the OPENLINQ_* variables they stand for, the bound socket as an inherited
    descriptor (the port was taken, and "in use" said, before anything else).
    """
    environment = dict(os.environ)
    environment.update({f"OPENLINQ_{name.upper()}": str(value) for name, value in flags.items()})
    environment[SOCKET_VARIABLE] = str(sock.fileno())
    # The interpreter's own options (-X dev, -W error, ...) carry over, as multiprocessing's do.
    options: list[str] = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *options, "-m", "openlinq.server_main"], environment)


def serve_inherited_socket(settings: Settings, on_ready: Callable[..., None]) -> None:
    """Serve on the socket ``exec_server`` passed down, in this one process."""
    from openlinq.app import create_app
    from openlinq.logs import configure_logging

    sock = socket.socket(fileno=int(os.environ.pop(SOCKET_VARIABLE)))
    configure_logging(settings.log_level, settings.log_format)
    application = create_app(settings, on_started=on_ready)
    uvicorn.Server(uvicorn_config(application, settings)).run(sockets=[sock])


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


def serve_processes(
    settings: Settings, sockets: list[socket.socket], on_ready: Callable[[], None]
) -> bool:
    """Serve from one API process per socket in ``sockets`` until SIGINT or SIGTERM.

    The sockets listen on one port with SO_REUSEPORT, so the kernel spreads new
    connections evenly over them. (With one shared socket the first process to wake
    accepts every connection waiting, and a client that opens its keep-alive connections
    at once, such as a load balancer or wrk, gets them all served by one process.)
    uvicorn's supervisor starts each process afresh (spawn), replaces one that dies (on
    its socket, where connections wait meanwhile), restarts them one by one on SIGHUP
    and, on SIGINT or SIGTERM, passes SIGTERM on and waits for each to finish its
    requests. ``on_ready`` runs once, when every process first serves. False when a
    process could not start (the supervisor then stops them all).
    """
    from uvicorn.config import STARTUP_FAILURE

    config = uvicorn_config(
        functools.partial(api_process_app, settings),
        settings,
        factory=True,
        workers=len(sockets),
    )
    supervisor = _supervisor(config, sockets, on_ready)
    supervisor.run()
    return all(p.exitcode != STARTUP_FAILURE for p in supervisor.processes)


def _supervisor(
    config: uvicorn.Config, sockets: list[socket.socket], on_ready: Callable[[], None]
) -> Multiprocess:
    """uvicorn 0.54's ``Multiprocess`` with the i-th process on the i-th socket.

    Its methods that make processes are restated with the socket of the process's slot;
    the rest (health pings, signals, SIGHUP restarts) is uvicorn's. The process count is
    the socket count, so SIGTTIN / SIGTTOU are ignored.
    """
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess, Process, logger

    class Supervisor(Multiprocess):
        announced = False  # on_ready has run

        def _start(self, slot: int) -> Process:
            process = Process(self.config, [sockets[slot]])
            process.start()
            return process

        def init_processes(self) -> None:
            self.processes = [self._start(slot) for slot in range(len(sockets))]

        def keep_subprocess_alive(self) -> None:
            """Every half second: replace a dead process; say once when all serve."""
            self._replace_the_dead()
            if (
                not self.announced
                and not self.should_exit.is_set()
                and all(process.is_ready(timeout=1) for process in self.processes)
            ):
                self.announced = True
                on_ready()

        def _replace_the_dead(self) -> None:
            if self.should_exit.is_set():
                return
            for slot, process in enumerate(self.processes):
                if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                    continue
                process.kill()  # hung, or already gone
                process.join()
                if process.exitcode == STARTUP_FAILURE:
                    # It would fail the same way again: the app or the database is broken.
                    logger.error(f"Child process [{process.pid}] failed to start, stopping.")
                    self.should_exit.set()
                    return
                if self.should_exit.is_set():
                    return
                logger.info(f"Child process [{process.pid}] died")
                self.processes[slot] = self._start(slot)

        def restart_all(self) -> None:
            """SIGHUP: replace each process, the new one serving before the old one stops."""
            for slot, old in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                new = self._start(slot)
                # Not uvicorn's 5 s: importing the server takes longer on a busy machine.
                if not new.wait_until_ready(PROCESS_START_SECONDS, self.should_exit):
                    new.kill()
                    new.join()
                    if not self.should_exit.is_set():
                        logger.error(f"Child process [{new.pid}] was not ready; restart stopped.")
                    return
                old.terminate()
                old.join()
                self.processes[slot] = new

        def handle_ttin(self) -> None:
            logger.info("Received SIGTTIN: the number of processes is fixed (--workers).")

        def handle_ttou(self) -> None:
            logger.info("Received SIGTTOU: the number of processes is fixed (--workers).")

    return Supervisor(config, sockets=sockets)
