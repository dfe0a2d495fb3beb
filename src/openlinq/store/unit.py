"""Transactions as the domain uses them: a set of repositories bound to one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from openlinq.store.engine import Database
from openlinq.store.repos import Repos


class Storage:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Repos]:
        """A write transaction; callbacks registered with ``after_commit`` run once it commits."""
        callbacks: list[Callable[[], None]] = []
        async with self.db.transaction() as conn:
            repos = Repos(conn, callbacks)
            yield repos
        for callback in callbacks:
            callback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Repos]:
        async with self.db.read() as conn:
            yield Repos(conn, [])
