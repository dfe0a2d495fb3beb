"""Connecting to SQLite or PostgreSQL: the one place their differences live."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVarTuple, overload

from sqlalchemy import text
from sqlalchemy.engine import URL, Dialect, Result, make_url
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util.typing import TupleAny

from openlinq.store.sqlite_sync import SqliteDatabase
from openlinq.store.types import load_json

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_Ts = TypeVarTuple("_Ts")


class DbConnection(Protocol):
    """One transaction's connection, as the repositories use it (async on both backends)."""

    @property
    def dialect(self) -> Dialect: ...

    @overload
    async def execute(
        self, statement: TypedReturnsRows[*_Ts], parameters: Any = None
    ) -> Result[*_Ts]: ...

    @overload
    async def execute(self, statement: Executable, parameters: Any = None) -> Result[*TupleAny]: ...

    async def run_sync(self, fn: Callable[..., Any], *args: Any) -> Any: ...


def affected_rows(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE changed (a cursor result on PostgreSQL,
    store/prepared.py's on SQLite)."""
    count = getattr(result, "rowcount", None)
    assert isinstance(count, int), "only a write statement's result counts rows"
    return count


def normalise_url(url: str) -> URL:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick the driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def sqlite_url_for(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'openlinq.db'}"


class Database:
    """The two kinds of transaction the code base uses, on either backend.

    ``transaction()`` is a write transaction. On SQLite it starts with ``BEGIN
    IMMEDIATE`` and statements run synchronously on the loop (store/sqlite_sync.py
    says why); on PostgreSQL it is an ordinary READ COMMITTED transaction through
    asyncpg. ``read()`` is a plain read transaction.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.sqlite: SqliteDatabase | None = None
        self.engine: AsyncEngine | None = None
        if self.is_sqlite:
            self.sqlite = SqliteDatabase(self.url, echo=echo)
        else:
            # Imported here: SQLAlchemy's asyncio extension loads the ORM, megabytes a
            # SQLite server never uses.
            from sqlalchemy.ext.asyncio import create_async_engine

            self.engine = create_async_engine(
                self.url,
                echo=echo,
                pool_size=10,
                max_overflow=10,
                json_deserializer=load_json,
            )

    def transaction(self) -> AbstractAsyncContextManager[DbConnection]:
        return self._begin(write=True)

    def read(self) -> AbstractAsyncContextManager[DbConnection]:
        if self.sqlite is not None:
            return self.sqlite.read()  # directly: every GET runs one
        return self._begin(write=False)

    @asynccontextmanager
    async def _begin(self, *, write: bool) -> AsyncIterator[DbConnection]:
        if self.sqlite is not None:
            # SQLite: one writer at a time, readers beside it (store/sqlite_sync.py).
            begin = self.sqlite.transaction if write else self.sqlite.read
            async with begin() as conn:
                yield conn
            return
        async with self._pg.connect() as pg, pg.begin():
            yield pg

    @property
    def _pg(self) -> AsyncEngine:
        assert self.engine is not None, "a PostgreSQL database has an async engine"
        return self.engine

    async def listen(self, channel: str, callback: Callable[[], None]) -> AsyncConnection | None:
        """Call ``callback`` on every NOTIFY on ``channel`` (PostgreSQL; None on SQLite).

        The returned connection carries the subscription; close it to stop.
        """
        if self.sqlite is not None:
            return None
        conn = await self._pg.connect()
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None, "an open connection has a driver connection"
        await driver.add_listener(channel, lambda *_: callback())
        return conn

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self.sqlite is not None:
            await self.sqlite.dispose()
        else:
            await self._pg.dispose()
