from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select

from openlinq.store.engine import DbConnection
from openlinq.store.prepared import prepare
from openlinq.store.tables import rate_hits

# Taken on every send: built once (see repos/chats.py).
_HITS_SINCE = select(func.count(), func.min(rate_hits.c.at)).where(
    rate_hits.c.key == bindparam("hit_key"), rate_hits.c.at > bindparam("since")
)
_HIT = rate_hits.insert()

# Run by every send, read or delivery: through the driver on SQLite (store/prepared.py).
prepare(_HITS_SINCE, _HIT)


class RateRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def hits_since(self, key: str, since: datetime) -> tuple[int, datetime | None]:
        """How many hits ``key`` has had since ``since``, and the oldest of them."""
        row = (await self.conn.execute(_HITS_SINCE, {"hit_key": key, "since": since})).one()
        oldest = row[1]
        if isinstance(oldest, str):  # SQLite aggregates lose the column type
            oldest = datetime.fromisoformat(oldest)
        return int(row[0]), oldest

    async def hit(self, key: str, at: datetime) -> None:
        await self.conn.execute(_HIT, {"key": key, "at": at})

    async def forget_before(self, before: datetime, batch: int) -> int:
        """Delete hits older than ``before`` among the ``batch`` oldest rows; how many went.

        Rows are read in id order, which is the order hits were counted in, through the
        primary key: no index on ``at`` is needed, and a batch reads ``batch`` rows however
        large the table is. A return below ``batch`` means the old ones are gone (a straggler
        with a later id is caught by a later sweep; the limits never count it anyway).
        """
        oldest = (
            await self.conn.execute(
                select(rate_hits.c.id, rate_hits.c.at).order_by(rate_hits.c.id).limit(batch)
            )
        ).all()
        doomed = [row.id for row in oldest if row.at < before]
        if doomed:
            await self.conn.execute(rate_hits.delete().where(rate_hits.c.id.in_(doomed)))
        return len(doomed)
