"""SQLite driven through SQLAlchemy's synchronous Core, on the event loop.

Our statements touch a handful of rows in a WAL database and finish in microseconds.
SQLAlchemy's asyncio layer over aiosqlite costs far more than that per call: each
checkout, BEGIN, statement and COMMIT crosses a greenlet and hands work to
aiosqlite's thread and back. Measured on the 2-core bench machine, a read
transaction with one statement took about 1.2 ms that way and 0.1 ms through the
synchronous Core, so SQLite statements run synchronously, right on the loop.

Nothing blocks on a lock: the busy timeout is 0, and a statement SQLite refuses
with SQLITE_BUSY / SQLITE_LOCKED (another process holds the write lock, or a
reader meets a checkpoint) is retried after an asyncio sleep, for up to
``WAIT_TIMEOUT_SECONDS``, while the loop serves everything else.

Caveat: a statement blocks the loop while it runs. That is the point for short
statements; a long one (a large batch, a migration) holds up every other request
of the process for its duration, so batches are kept small.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple, overload

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, Dialect, Result
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util.typing import TupleAny

from openlinq.filemodes import prepare_sqlite_file
from openlinq.store.prepared import Plan, is_prepared
from openlinq.store.types import load_json

# How long a statement waits for another connection's lock before the error is raised.
WAIT_TIMEOUT_SECONDS = 15.0
# Sleeps between attempts: short at first (a commit takes microseconds), then capped.
_FIRST_PAUSE = 0.0005
_MAX_PAUSE = 0.05
# Connections open at once: transactions that await nothing but statements finish
# without yielding the loop, so a few cover any number of concurrent requests. Read
# transactions have POOL_SIZE of their own (kept open between reads), the rest as many.
POOL_SIZE = 4
_LOCK_ERRORS = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
T = TypeVar("T")
_Ts = TypeVarTuple("_Ts")
# Plans by statement and parameter names (store/prepared.py).
Plans = dict[tuple[int, tuple[str, ...]], "Plan | None"]


def is_lock_error(error: BaseException) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (extended codes included), raw or wrapped by SQLAlchemy."""
    if isinstance(error, OperationalError):
        error = error.orig  # type: ignore[assignment]
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _LOCK_ERRORS


async def retry_on_lock(call: Callable[[], T], patience: float = WAIT_TIMEOUT_SECONDS) -> T:
    """``call()``, retried after growing pauses while SQLite answers that it is locked."""
    deadline = time.monotonic() + patience
    pause = _FIRST_PAUSE
    while True:
        try:
            return call()
        except OperationalError as error:
            if not is_lock_error(error) or time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE)


class SqliteConnection:
    """What the repositories use of an ``AsyncConnection``, over a synchronous one."""

    def __init__(self, sync: Connection, plans: Plans) -> None:
        self.sync = sync
        self._plans = plans

    @property
    def dialect(self) -> Dialect:
        return self.sync.dialect

    @overload
    async def execute(
        self, statement: TypedReturnsRows[*_Ts], parameters: Any = None
    ) -> Result[*_Ts]: ...

    @overload
    async def execute(self, statement: Executable, parameters: Any = None) -> Result[*TupleAny]: ...

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[*TupleAny]:
        plan = (
            self._plan(statement, parameters)
            if parameters is None or isinstance(parameters, dict)
            else None
        )
        if plan is not None:
            result = await retry_on_lock(lambda: plan.run(self.sync, parameters))
            if result is not None:
                return result
        return await retry_on_lock(lambda: self.sync.execute(statement, parameters))

    def _plan(self, statement: Executable, parameters: dict[str, Any] | None) -> Plan | None:
        if not is_prepared(statement):
            return None
        names = tuple(parameters or ())
        key = (id(statement), names)
        if key not in self._plans:
            self._plans[key] = Plan.of(statement, self.sync.dialect, names)
        return self._plans[key]

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self.sync, *args)


class SqliteDatabase:
    """Connections to one SQLite file: write transactions one at a time, reads beside them."""

    def __init__(self, url: URL, *, echo: bool = False) -> None:
        database = url.database
        if database and database != ":memory:":
            prepare_sqlite_file(Path(database))
        self.engine: Engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            echo=echo,
            # Readers keep theirs checked out (below): the pool never runs dry for the rest.
            pool_size=2 * POOL_SIZE,
            max_overflow=0,
            connect_args={"check_same_thread": False, "timeout": 0},
            json_deserializer=load_json,
        )
        event.listen(self.engine, "connect", _configure)
        # Checkouts wait here, on the loop, never in the pool (which would block the loop).
        self._slots = asyncio.Semaphore(POOL_SIZE)
        self._read_slots = asyncio.Semaphore(POOL_SIZE)
        # Idle reader connections, kept checked out of the pool (see read()).
        self._readers: list[Connection] = []
        # Prepared statements compiled for this database (store/prepared.py).
        self._plans: Plans = {}
        # SQLite has one writer at a time. Queueing this process's writers here (first
        # come, first served) beats retrying SQLite's lock in growing steps.
        self._writer = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        """A write transaction: ``BEGIN IMMEDIATE`` takes the write lock up front, so it
        never fails halfway for want of upgrading a read lock."""
        async with self._writer, self._connection("BEGIN IMMEDIATE") as conn:
            yield conn

    def read(self) -> _ReadTransaction:
        """A read transaction. Every GET runs one, so it is lean: a reader connection is
        kept open between reads (a pool checkout and its reset cost more than the read's
        statements), and BEGIN / COMMIT go to the driver directly."""
        return _ReadTransaction(self)

    @asynccontextmanager
    async def _connection(self, begin: str) -> AsyncIterator[SqliteConnection]:
        async with self._slots:
            with self.engine.connect() as sync:
                await retry_on_lock(lambda: sync.exec_driver_sql(begin))
                try:
                    yield SqliteConnection(sync, self._plans)
                except BaseException:
                    sync.rollback()
                    raise
                await retry_on_lock(sync.commit)

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        readers, self._readers = self._readers, []
        for reader in readers:
            reader.close()
        self.engine.dispose()


class _ReadTransaction:
    """``async with database.read() as conn``: a class, not a generator-based context
    manager, as it runs on every read request."""

    __slots__ = ("_conn", "_db", "_sync")

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def __aenter__(self) -> SqliteConnection:
        db = self._db
        await db._read_slots.acquire()
        try:
            sync = db._readers.pop() if db._readers else db.engine.connect()
            self._sync = sync
            # A deferred BEGIN takes no lock: it cannot be refused as busy.
            _driver(sync).execute("BEGIN")
        except BaseException:
            db._read_slots.release()
            raise
        self._conn = SqliteConnection(sync, db._plans)
        return self._conn

    async def __aexit__(self, kind: object, error: object, _traceback: object) -> None:
        db, sync = self._db, self._sync
        try:
            # SQLAlchemy begins its own transaction object when it runs a statement (no SQL
            # on pysqlite); ending it ends SQLite's, else the driver ends it. A read-only
            # transaction's end releases a snapshot: it cannot be refused as busy either.
            if sync.in_transaction():
                (sync.commit if kind is None else sync.rollback)()
            else:
                driver = _driver(sync)
                (driver.commit if kind is None else driver.rollback)()
        except BaseException:
            sync.close()  # back to the pool, which resets or discards it
            raise
        else:
            db._readers.append(sync)
        finally:
            db._read_slots.release()


def _driver(sync: Connection) -> Any:
    driver = sync.connection.dbapi_connection
    assert driver is not None, "an open connection has a driver connection"
    return driver


def _configure(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun explicitly (above), not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
