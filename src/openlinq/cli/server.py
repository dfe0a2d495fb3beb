"""``openlinq serve``, ``worker`` and ``migrate``: the commands that run on the database."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from openlinq.cli.common import fail, say

if TYPE_CHECKING:
    from openlinq.config import Settings
    from openlinq.domain.accounts import Sandbox

DataDir = Annotated[
    Path | None, typer.Option(help="Data directory (OPENLINQ_DATA_DIR).", show_default=False)
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="sqlite:/// or postgresql:// URL (OPENLINQ_DATABASE_URL).")
]
LogFormat = Annotated[
    Literal["text", "json"] | None,
    typer.Option(
        "--log-format",
        help="text for people, json (one object a line) for machines (OPENLINQ_LOG_FORMAT).",
    ),
]


def load_settings(data_dir: Path | None, database_url: str | None, **extra: object) -> Settings:
    """The server's settings: flags over OPENLINQ_* variables over defaults."""
    from pydantic import ValidationError

    from openlinq.config import Settings, settings_error

    overrides = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        fail(f"invalid configuration: {settings_error(error)}", 2)


def configure_logging(settings: Settings, log_format: str | None) -> None:
    """The log as ``--log-format`` (else OPENLINQ_LOG_FORMAT) asks: text or JSON lines."""
    from openlinq.logs import configure_logging as configure

    try:
        configure(settings.log_level, log_format or settings.log_format)
    except ValueError as error:
        fail(str(error), 2)


def bind(host: str, port: int, *, shared: bool = False) -> socket.socket:
    """Take the port before anything is printed, so "port taken" is the only thing said.

    ``shared``: with SO_REUSEPORT, for one socket per API process on one port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Made as TCP explicitly: asyncio turns Nagle off only then (it checks the protocol),
    # and with Nagle a response written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            fail(
                f"port {port} on {host} is already in use (another openlinq?); "
                "choose another with --port or OPENLINQ_PORT"
            )
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    sock.set_inheritable(True)
    return sock


def bind_each(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets on one port (SO_REUSEPORT), one per API process.

    The port is first taken without SO_REUSEPORT, so a port another program (or another
    openlinq with its own processes) listens on is refused as "in use", not shared.
    """
    alone = bind(host, port)
    port = alone.getsockname()[1]  # port 0: the one the system chose, for every socket
    alone.close()
    return [bind(host, port, shared=True) for _ in range(count)]


def _refuse_processes_it_cannot_share(settings: Settings) -> None:
    """Several API processes share the database and nothing else: SQLite (one writer,
    one process) and the manual clock (it lives in one process's memory) cannot."""
    if settings.workers == 1:
        return
    if settings.resolved_database_url.startswith("sqlite"):
        fail(
            f"--workers {settings.workers} needs PostgreSQL (--database-url postgresql://…): "
            "SQLite is served by one process",
            2,
        )
    if settings.clock == "manual":
        fail(
            f"--workers {settings.workers} needs the real clock: "
            "the manual clock lives in one process",
            2,
        )


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (OPENLINQ_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (OPENLINQ_PORT).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    dev_api_key: Annotated[
        str | None, typer.Option(help="Fix the sandbox API key (OPENLINQ_DEV_API_KEY).")
    ] = None,
    clock: Annotated[str | None, typer.Option(help="real or manual (OPENLINQ_CLOCK).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="API processes sharing the port (OPENLINQ_WORKERS); more than one needs "
            "PostgreSQL.",
        ),
    ] = None,
    log_format: LogFormat = None,
) -> None:
    """Start the server (migrating the database and creating the sandbox on first start)."""
    flags: dict[str, object] = {
        "host": host,
        "port": port,
        "dev_api_key": dev_api_key,
        "clock": clock,
        "workers": workers,
        "log_format": log_format,
    }
    settings = load_settings(data_dir, database_url, **flags)
    _refuse_processes_it_cannot_share(settings)
    if settings.workers > 1:
        sockets = bind_each(settings.host, settings.port, settings.workers)
        configure_logging(settings, log_format)
        _serve_processes(settings, sockets)
        return
    sock = bind(settings.host, settings.port)
    configure_logging(settings, log_format)  # a bad level fails here, in one line
    from openlinq.serving import exec_server

    flags |= {"data_dir": data_dir, "database_url": database_url}
    exec_server({name: value for name, value in flags.items() if value is not None}, sock)


def _serve_processes(settings: Settings, sockets: list[socket.socket]) -> None:
    """Migrate and bootstrap once, then serve from ``settings.workers`` API processes."""
    import asyncio

    from openlinq.serving import serve_processes
    from openlinq.wiring import build_services, start, stop

    async def prepare() -> Sandbox | None:
        services = build_services(settings)
        try:
            return await start(services)
        finally:
            await stop(services)

    sandbox = asyncio.run(prepare())
    if settings.metrics_exposed:
        # Before the processes start: each then counts into the shared directory, and a
        # scrape, whichever process answers it, sums them all.
        from openlinq.metrics import prepare_multiprocess

        prepare_multiprocess(settings.data_dir)
    from openlinq.banner import banner

    show = banner(settings)
    if not serve_processes(settings, sockets, lambda: show(sandbox)):
        fail("an API process could not start (the log above says why); all were stopped")


def worker(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    log_format: LogFormat = None,
) -> None:
    """Run only the background job runner (deliveries, simulator, webhooks): no HTTP.

    On PostgreSQL, run as many as you like beside API-only servers
    (OPENLINQ_RUN_WORKER=false); they share the work without doing any twice.
    """
    import asyncio
    import signal

    from openlinq.wiring import background_worker, build_services, start, stop

    settings = load_settings(data_dir, database_url)
    configure_logging(settings, log_format)

    async def run() -> None:
        services = build_services(settings)
        await start(services)
        say(f"openlinq worker {services.runner.worker_id} running")
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        try:
            async with background_worker(services):
                await stopped.wait()
        finally:
            await stop(services)

    asyncio.run(run())


def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Create the database if needed and apply every migration (serve does this on start)."""
    import asyncio

    from openlinq.store.migrate import upgrade_to_head
    from openlinq.wiring import build_services

    settings = load_settings(data_dir, database_url)

    async def run() -> None:
        services = build_services(settings)
        try:
            await upgrade_to_head(services.db)
        finally:
            await services.db.dispose()

    asyncio.run(run())
    say(f"database ready: {settings.resolved_database_url.split('@')[-1]}")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.command()(migrate)
