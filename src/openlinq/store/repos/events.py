from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select

from openlinq.domain.ids import AccountId
from openlinq.store.engine import DbConnection
from openlinq.store.tables import events


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    account_id: AccountId
    type: str
    phone_number: str | None
    trace_id: str
    data: dict[str, Any]
    created_at: datetime


_APPEND = events.insert()  # built once: every state change appends an event


class EventRepo:
    """The outbox: events are written in the transaction of the change that causes them."""

    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def append(self, event: StoredEvent) -> None:
        await self.conn.execute(
            _APPEND,
            {
                "id": event.id,
                "account_id": event.account_id,
                "type": event.type,
                "phone_number": event.phone_number,
                "trace_id": event.trace_id,
                "data": event.data,
                "created_at": event.created_at,
            },
        )

    async def recent(self, account_id: AccountId, limit: int = 100) -> list[StoredEvent]:
        rows = await self.conn.execute(
            select(events)
            .where(events.c.account_id == account_id)
            .order_by(events.c.seq.desc())
            .limit(limit)
        )
        return [_stored(r) for r in rows]

    async def last_seq(self) -> int:
        return int((await self.conn.execute(select(func.max(events.c.seq)))).scalar() or 0)

    async def after(self, seq: int, limit: int) -> list[tuple[int, StoredEvent]]:
        """Events of every account appended after ``seq``, oldest first (the live feed)."""
        rows = await self.conn.execute(
            select(events).where(events.c.seq > seq).order_by(events.c.seq).limit(limit)
        )
        return [(int(r.seq), _stored(r)) for r in rows]


def _stored(r: Row[Any]) -> StoredEvent:
    return StoredEvent(
        r.id, AccountId(r.account_id), r.type, r.phone_number, r.trace_id, r.data, r.created_at
    )
