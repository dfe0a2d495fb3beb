"""Transactions as the domain uses them: a set of repositories bound to one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType

from openlinq.store.engine import Database, DbConnection
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

    def read(self) -> _Read:
        """A read transaction (a class, not a generator: every GET runs one)."""
        return _Read(self.db.read())


class _Read:
    __slots__ = ("_transaction",)

    def __init__(self, transaction: AbstractAsyncContextManager[DbConnection]) -> None:
        self._transaction = transaction

    async def __aenter__(self) -> Repos:
        return Repos(await self._transaction.__aenter__(), [])

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        return await self._transaction.__aexit__(kind, error, traceback)
