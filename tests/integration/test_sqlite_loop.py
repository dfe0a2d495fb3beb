"""SQLite calls on the event loop: lock waits go to the thread, in order, and still succeed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from openlinq.store import sqlite_loop
from openlinq.store.engine import Database

pytestmark = pytest.mark.anyio


async def _until(condition: Callable[[], bool]) -> None:
    """Let other tasks and the thread run until ``condition`` holds (at most 10 s).

    Polls: the state it waits for changes on aiosqlite's thread, which sets no event.
    """
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


@pytest.fixture
async def path(tmp_path: Path) -> str:
    database = str(tmp_path / "loop.db")
    setup = await sqlite_loop.connect(database, isolation_level=None)
    await setup.execute("PRAGMA journal_mode=WAL")
    await setup.execute("CREATE TABLE t (v INTEGER)")
    await setup.close()
    return database


@pytest.fixture
async def holder(path: str) -> AsyncIterator[sqlite_loop.LoopConnection]:
    """A connection that holds the write lock (another process, as far as SQLite knows)."""
    conn = await sqlite_loop.connect(path, isolation_level=None)
    await conn.execute("BEGIN IMMEDIATE")
    await conn.execute("INSERT INTO t (v) VALUES (0)")
    yield conn
    await conn.close()


async def _marking(path: str) -> tuple[sqlite_loop.LoopConnection, list[tuple[int, int]]]:
    """A connection with ``mark(n)``, which records n and the thread that ran it."""
    conn = await sqlite_loop.connect(path, isolation_level=None)
    marks: list[tuple[int, int]] = []

    def mark(n: int) -> int:
        marks.append((n, threading.get_ident()))
        return n

    await conn.create_function("mark", 1, mark)
    return conn, marks


async def test_calls_run_on_the_loop_thread(path: str) -> None:
    conn, marks = await _marking(path)
    try:
        await conn.execute("SELECT mark(1)")
        assert marks == [(1, threading.get_ident())]
        assert conn.calls_on_thread == 0
    finally:
        await conn.close()


async def test_a_call_that_meets_the_lock_waits_on_the_thread_and_later_calls_queue_behind_it(
    path: str, holder: sqlite_loop.LoopConnection
) -> None:
    conn, marks = await _marking(path)
    try:
        # The write needs the lock the holder has; the read alone would not wait in WAL mode.
        write = asyncio.create_task(conn.execute("INSERT INTO t (v) VALUES (mark(1))"))
        await _until(lambda: conn.calls_on_thread == 1)
        read = asyncio.create_task(conn.execute("SELECT mark(2)"))
        await _until(lambda: conn.calls_on_thread == 2)
        # The loop is free meanwhile: the holder goes on and commits.
        await holder.execute("INSERT INTO t (v) VALUES (3)")
        assert not write.done()
        assert not read.done()
        await holder.execute("COMMIT")
        await asyncio.gather(write, read)
        assert [n for n, _ in marks] == [1, 2]
        assert all(thread != threading.get_ident() for _, thread in marks)
        assert conn.calls_on_thread == 0
        async with conn.execute("SELECT v FROM t ORDER BY v") as cursor:
            assert [row[0] for row in await cursor.fetchall()] == [0, 1, 3]
        # The queue is empty again, so calls are back on the loop.
        await conn.execute("SELECT mark(4)")
        assert marks[-1] == (4, threading.get_ident())
    finally:
        await conn.close()


async def test_a_cancelled_waiter_still_keeps_later_calls_behind_the_thread(
    path: str, holder: sqlite_loop.LoopConnection
) -> None:
    conn, marks = await _marking(path)
    try:
        write = asyncio.create_task(conn.execute("INSERT INTO t (v) VALUES (mark(1))"))
        await _until(lambda: conn.calls_on_thread == 1)
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        # The thread is still running the insert: the next call must not run beside it.
        assert conn.calls_on_thread == 1
        read = asyncio.create_task(conn.execute("SELECT mark(2)"))
        await holder.execute("COMMIT")
        await read
        assert [n for n, _ in marks] == [1, 2]
        await _until(lambda: conn.calls_on_thread == 0)
    finally:
        await conn.close()


async def test_other_errors_are_raised_at_once(path: str) -> None:
    conn = await sqlite_loop.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await conn.execute("SELECT * FROM missing")
        assert conn.calls_on_thread == 0
    finally:
        await conn.close()


async def test_two_databases_contending_for_the_write_lock_both_commit(tmp_path: Path) -> None:
    """Two engines on one file, as two processes have: the second waits, then writes."""
    url = f"sqlite:///{tmp_path / 'two.db'}"
    first, second = Database(url), Database(url)
    try:
        async with first.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (v INTEGER)"))
        holding = asyncio.Event()
        release = asyncio.Event()

        async def write(db: Database, value: int, hold: bool) -> None:
            async with db.transaction() as conn:
                await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
                if hold:
                    holding.set()
                    await release.wait()

        opened: list[Any] = []  # the second engine's one driver connection

        @event.listens_for(second.engine.sync_engine, "connect")
        def _opens(_dbapi_connection: Any, record: Any) -> None:
            opened.append(record.driver_connection)

        await second.ping()  # connected before the lock is taken: what waits is BEGIN IMMEDIATE

        held = asyncio.create_task(write(first, 1, hold=True))
        await holding.wait()
        waiting = asyncio.create_task(write(second, 2, hold=False))
        await _until(lambda: bool(opened) and opened[0].calls_on_thread == 1)
        assert not waiting.done()
        release.set()
        await asyncio.gather(held, waiting)
        async with second.read() as conn:
            rows = (await conn.execute(text("SELECT v FROM t ORDER BY v"))).all()
        assert [r.v for r in rows] == [1, 2]
    finally:
        await first.dispose()
        await second.dispose()
