"""Connecting to SQLite or PostgreSQL: the one place their differences live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from openlinq.filemodes import prepare_sqlite_file
from openlinq.store import sqlite_loop


def normalise_url(url: str) -> URL:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick the async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def sqlite_url_for(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'openlinq.db'}"


class Database:
    """An engine plus the two kinds of transaction the code base uses.

    ``transaction()`` is a write transaction. On SQLite it starts with
    ``BEGIN IMMEDIATE`` so writers queue on the busy timeout instead of failing
    when a read lock would need upgrading; on PostgreSQL it is an ordinary
    READ COMMITTED transaction. ``read()`` is a plain read transaction.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: AsyncEngine = self._create_engine(echo)
        self._sqlite_writer = asyncio.Lock()

    def _create_engine(self, echo: bool) -> AsyncEngine:
        if not self.is_sqlite:
            return create_async_engine(self.url, echo=echo, pool_size=10, max_overflow=10)
        database = self.url.database
        if database and database != ":memory:":
            prepare_sqlite_file(Path(database))
        # SQLite calls run on the event loop; only lock waits go to aiosqlite's thread
        # (store/sqlite_loop.py says why, and what it costs).
        args, options = aiosqlite_dialect().create_connect_args(self.url)

        async def connect() -> sqlite_loop.LoopConnection:
            return await sqlite_loop.connect(*args, **options)

        engine = create_async_engine(
            self.url, echo=echo, pool_size=3, max_overflow=2, async_creator=connect
        )
        _install_sqlite_hooks(engine)
        return engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        if not self.is_sqlite:
            async with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        # SQLite has one writer at a time. Queueing this process's writers on a lock
        # (first come, first served) beats letting them poll SQLite's busy handler,
        # which sleeps in growing steps and gives long, unfair waits under load.
        async with self._sqlite_writer, self.engine.connect() as conn:
            await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    async def listen(self, channel: str, callback: Callable[[], None]) -> AsyncConnection | None:
        """Call ``callback`` on every NOTIFY on ``channel`` (PostgreSQL; None on SQLite).

        The returned connection carries the subscription; close it to stop.
        """
        if self.is_sqlite:
            return None
        conn = await self.engine.connect()
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None, "an open connection has a driver connection"
        await driver.add_listener(channel, lambda *_: callback())
        return conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (see pysqlite docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # No busy_timeout here: a call that meets a lock waits on aiosqlite's thread instead
        # of blocking the loop (sqlite_loop.WAIT_TIMEOUT_MS).
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))
