"""Transactions as the domain uses them: a set of repositories bound to one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from openlinq.store.engine import Database
from openlinq.store.repos import Repos

log = logging.getLogger(__name__)


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
            # The transaction has committed: a failing callback (a cache, a wake-up) must
            # not turn the request into an error the client would retry and apply twice.
            try:
                callback()
            except Exception:
                log.exception("an after-commit callback failed; the commit stands")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Repos]:
        async with self.db.read() as conn:
            yield Repos(conn, [])
