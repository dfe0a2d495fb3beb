"""The account's blocked handles, and the inbound traffic dropped because of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from openlinq.domain.ids import AccountId
from openlinq.store.engine import DbConnection
from openlinq.store.prepared import prepare
from openlinq.store.tables import blocked_handles, blocked_inbound

# Checked on every direct send and every inbound message: built once (see repos/chats.py).
_BLOCKED = select(blocked_handles.c.handle).where(
    blocked_handles.c.account_id == bindparam("account_id"),
    blocked_handles.c.handle.in_(bindparam("handles", expanding=True)),
)
prepare(_BLOCKED)  # through the driver on SQLite (store/prepared.py)


@dataclass(frozen=True, slots=True)
class BlockedHandle:
    handle: str
    reason: str | None
    blocked_at: datetime


@dataclass(frozen=True, slots=True)
class DroppedInbound:
    id: str
    handle: str
    line_number: str
    chat_id: str | None
    kind: str  # "message" | "reaction"
    summary: str
    received_at: datetime


def _entry(row: Any) -> BlockedHandle:
    return BlockedHandle(row.handle, row.reason, row.blocked_at)


class BlockedRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def blocked(self, account_id: AccountId, handles: list[str]) -> list[str]:
        """Which of ``handles`` the account blocked."""
        rows = await self.conn.execute(_BLOCKED, {"account_id": account_id, "handles": handles})
        return [r.handle for r in rows]

    async def get(self, account_id: AccountId, handle: str) -> BlockedHandle | None:
        row = (
            await self.conn.execute(
                select(blocked_handles).where(
                    blocked_handles.c.account_id == account_id,
                    blocked_handles.c.handle == handle,
                )
            )
        ).first()
        return _entry(row) if row else None

    async def add(self, account_id: AccountId, entry: BlockedHandle) -> None:
        await self.conn.execute(
            blocked_handles.insert().values(
                account_id=account_id,
                handle=entry.handle,
                reason=entry.reason,
                blocked_at=entry.blocked_at,
            )
        )

    async def remove(self, account_id: AccountId, handle: str) -> None:
        await self.conn.execute(
            blocked_handles.delete().where(
                blocked_handles.c.account_id == account_id, blocked_handles.c.handle == handle
            )
        )

    async def all(self, account_id: AccountId) -> list[BlockedHandle]:
        """Newest first."""
        rows = await self.conn.execute(
            select(blocked_handles)
            .where(blocked_handles.c.account_id == account_id)
            .order_by(blocked_handles.c.blocked_at.desc(), blocked_handles.c.handle)
        )
        return [_entry(r) for r in rows]

    async def record_dropped(
        self, account_id: AccountId, dropped: DroppedInbound, keep: int
    ) -> None:
        """Record ``dropped``, keeping the account's newest ``keep`` records only."""
        await self.conn.execute(
            blocked_inbound.insert().values(
                id=dropped.id,
                account_id=account_id,
                handle=dropped.handle,
                line_number=dropped.line_number,
                chat_id=dropped.chat_id,
                kind=dropped.kind,
                summary=dropped.summary,
                received_at=dropped.received_at,
            )
        )
        oldest_kept = (
            select(blocked_inbound.c.seq)
            .where(blocked_inbound.c.account_id == account_id)
            .order_by(blocked_inbound.c.seq.desc())
            .offset(keep - 1)
            .limit(1)
            .scalar_subquery()
        )
        await self.conn.execute(
            blocked_inbound.delete().where(
                blocked_inbound.c.account_id == account_id, blocked_inbound.c.seq < oldest_kept
            )
        )

    async def dropped(self, account_id: AccountId, limit: int) -> list[DroppedInbound]:
        """The newest ``limit`` dropped items, newest first."""
        rows = await self.conn.execute(
            select(blocked_inbound)
            .where(blocked_inbound.c.account_id == account_id)
            .order_by(blocked_inbound.c.seq.desc())
            .limit(limit)
        )
        return [
            DroppedInbound(
                r.id, r.handle, r.line_number, r.chat_id, r.kind, r.summary, r.received_at
            )
            for r in rows
        ]
