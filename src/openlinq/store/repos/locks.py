from __future__ import annotations

from sqlalchemy import text

from openlinq.store.engine import DbConnection

_HOLD = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


class LockRepo:
    """Transaction-scoped named locks.

    PostgreSQL takes an advisory lock held until commit, so concurrent requests
    for one idempotency key or one recipient set run one after another. SQLite
    needs nothing: write transactions there already run one at a time.
    """

    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def hold(self, name: str) -> None:
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(_HOLD, {"name": name})
