"""An aiosqlite connection that runs SQLite calls on the event loop.

aiosqlite runs every call (cursor, execute, fetch, close) on a thread of its own
and hands the result back to the loop: four thread hand-offs per statement,
which cost about 0.5 ms of CPU each time against a few microseconds for the
SQLite call itself. Our statements touch a handful of rows in a WAL database,
so they finish in microseconds unless they must wait for a lock; only that wait
needs a thread.

So calls run directly with a busy timeout of 0. A call refused with
SQLITE_BUSY / SQLITE_LOCKED (another process holds the write lock, or a reader
meets a checkpoint) is retried on aiosqlite's thread with the normal busy
timeout, and every later call on the connection queues behind it on that thread
until the queue is empty again, so calls keep their order.

Caveat: a call running on the loop blocks the loop for its duration. That is the
point for short statements; a long one (a large purge batch, a migration) now
holds up every other request of the process while it runs.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

# How long a call sent to the thread waits for a lock before SQLite gives up.
WAIT_TIMEOUT_MS = 15_000
_LOCK_ERRORS = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def is_lock_error(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, extended codes included."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _LOCK_ERRORS


def _waiting(conn: sqlite3.Connection, call: Callable[[], Any]) -> Any:
    """Run ``call`` on the thread with the busy timeout on, then set it back to 0."""
    conn.execute(f"PRAGMA busy_timeout={WAIT_TIMEOUT_MS}")
    try:
        return call()
    finally:
        conn.execute("PRAGMA busy_timeout=0")


class LoopConnection(aiosqlite.Connection):
    """Runs calls on the loop; only calls that meet a lock (and those after them) use the thread.

    The connection must be opened with ``check_same_thread=False`` and a busy
    timeout of 0, which ``connect`` does.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        # Calls handed to the thread whose result has not yet reached the loop.
        self._on_thread = 0
        # The thread only ever waits for locks; let the process exit even while it waits.
        self._thread.daemon = True

    @property
    def calls_on_thread(self) -> int:
        return self._on_thread

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        call = partial(fn, *args, **kwargs)
        if self._on_thread == 0:
            try:
                return call()
            except sqlite3.OperationalError as error:
                if not is_lock_error(error):
                    raise
            call = partial(_waiting, self._connection, call)
        return await self._on_worker_thread(call)

    async def _on_worker_thread(self, call: Callable[[], Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._on_thread += 1
        # Counted down when the thread has finished the call, not when the caller stops
        # waiting: a cancelled caller must not let the next call run beside the thread.
        future.add_done_callback(self._thread_call_done)
        self._tx.put_nowait((future, call))
        return await asyncio.shield(future)

    def _thread_call_done(self, _future: asyncio.Future[Any]) -> None:
        self._on_thread -= 1


async def connect(database: str, **kwargs: Any) -> LoopConnection:
    """Open ``database`` (``sqlite3.connect`` arguments) for use from the loop and the thread."""
    options = {**kwargs, "check_same_thread": False, "timeout": 0}
    connector = partial(sqlite3.connect, database, **options)
    connection = LoopConnection(connector, iter_chunk_size=64)
    await connection
    return connection
