"""SQLite statements run on the loop; a lock held elsewhere is waited for without blocking it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from openlinq.store.engine import Database
from openlinq.store.sqlite_sync import POOL_SIZE, retry_on_lock

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'sync.db'}")
    async with database.transaction() as conn:
        await conn.execute(text("CREATE TABLE t (v INTEGER)"))
    yield database
    await database.dispose()


@pytest.fixture
def holder(db: Database) -> Iterator[sqlite3.Connection]:
    """A connection holding the write lock, as another process would."""
    assert db.url.database is not None
    conn = sqlite3.connect(db.url.database, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t (v) VALUES (0)")
    yield conn
    conn.close()


async def _values(db: Database) -> list[int]:
    async with db.read() as conn:
        return [row.v for row in await conn.execute(text("SELECT v FROM t ORDER BY v"))]


async def _insert(db: Database, value: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})


async def test_statements_run_on_the_loop_thread(db: Database) -> None:
    threads: list[int] = []
    assert db.sqlite is not None

    @event.listens_for(db.sqlite.engine, "connect")
    def _register(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("mark", 0, lambda: threads.append(threading.get_ident()))

    await db.sqlite.dispose()  # new connections get the function
    async with db.read() as conn:
        await conn.execute(text("SELECT mark()"))
    assert threads == [threading.get_ident()]


async def test_a_write_waits_for_another_holder_of_the_lock_while_the_loop_serves_reads(
    db: Database, holder: sqlite3.Connection
) -> None:
    write = asyncio.create_task(_insert(db, 1))
    await asyncio.sleep(0.05)
    assert not write.done()
    # The loop is free: a read (WAL: readers never wait for the writer) answers meanwhile.
    assert await _values(db) == []
    holder.execute("COMMIT")
    await write
    assert await _values(db) == [0, 1]


async def test_waiting_for_a_lock_gives_up_with_the_lock_error(
    db: Database, holder: sqlite3.Connection
) -> None:
    assert db.url.database is not None
    other = sqlite3.connect(db.url.database, isolation_level=None, timeout=0)
    attempts = 0

    def begin() -> None:
        nonlocal attempts
        attempts += 1
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise OperationalError("BEGIN IMMEDIATE", None, error) from error

    try:
        with pytest.raises(OperationalError, match="locked"):
            await retry_on_lock(begin, patience=0.05)
        assert attempts > 1
    finally:
        other.close()


async def test_other_errors_are_raised_at_once(db: Database) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        async with db.read() as conn:
            await conn.execute(text("SELECT * FROM missing"))


async def test_a_failed_transaction_rolls_back_and_leaves_every_connection_usable(
    db: Database,
) -> None:
    async def refused(value: int) -> None:
        async with db.transaction() as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
            raise RuntimeError("the domain refused")

    for value in range(POOL_SIZE + 1):
        with pytest.raises(RuntimeError):
            await refused(value)
    await asyncio.gather(*(_insert(db, value) for value in range(POOL_SIZE * 3)))
    assert await _values(db) == list(range(POOL_SIZE * 3))


async def test_concurrent_readers_beyond_the_pool_wait_for_a_connection(db: Database) -> None:
    release = asyncio.Event()
    inside = 0

    async def hold() -> None:
        nonlocal inside
        async with db.read():
            inside += 1
            await release.wait()

    readers = [asyncio.create_task(hold()) for _ in range(POOL_SIZE + 2)]
    await asyncio.sleep(0.05)
    assert inside == POOL_SIZE
    release.set()
    await asyncio.gather(*readers)
    assert inside == POOL_SIZE + 2


async def test_two_databases_contending_for_the_write_lock_both_commit(db: Database) -> None:
    """Two databases on one file, as two processes have: the second waits, then writes."""
    second = Database(str(db.url))
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with db.transaction() as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES (1)"))
            holding.set()
            await release.wait()

    try:
        held = asyncio.create_task(hold())
        await holding.wait()
        waiting = asyncio.create_task(_insert(second, 2))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        release.set()
        await asyncio.gather(held, waiting)
        assert await _values(second) == [1, 2]
    finally:
        await second.dispose()


async def test_a_reader_is_kept_between_reads_and_sees_every_commit(db: Database) -> None:
    """Reads reuse their connection (no pool checkout per read), yet each begins afresh."""
    assert db.sqlite is not None
    checkouts: list[object] = []
    event.listen(db.sqlite.engine, "checkout", lambda *args: checkouts.append(args))
    for value in range(3):
        await _insert(db, value)
        assert await _values(db) == list(range(value + 1))
    reads = len(checkouts) - 3  # each write checks one out
    assert reads == 1


async def test_a_failed_read_leaves_its_connection_usable_without_a_stale_snapshot(
    db: Database,
) -> None:
    async def refused() -> None:
        async with db.read() as conn:
            await conn.execute(text("SELECT v FROM t"))
            raise RuntimeError("the domain refused")

    async def failing() -> None:
        async with db.read() as conn:
            await conn.execute(text("SELECT * FROM missing"))

    for _ in range(2):
        with pytest.raises(RuntimeError):
            await refused()
    with pytest.raises(OperationalError):
        await failing()
    await _insert(db, 7)
    assert await _values(db) == [7]
