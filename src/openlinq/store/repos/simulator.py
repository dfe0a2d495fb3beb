from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, union

from openlinq.domain.ids import AccountId
from openlinq.store.engine import DbConnection
from openlinq.store.tables import chat_handles, chats, sim_devices

# Read for every recipient of every send and delivery: built once (see repos/chats.py).
_GET = select(sim_devices.c.profile, sim_devices.c.state).where(
    sim_devices.c.account_id == bindparam("account_id"),
    sim_devices.c.handle == bindparam("handle"),
)


class SimDeviceRepo:
    """Per-account overrides and memory of simulated devices."""

    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def get(
        self, account_id: AccountId, handle: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        row = (await self.conn.execute(_GET, {"account_id": account_id, "handle": handle})).first()
        return (row.profile, row.state) if row else None

    async def put(
        self,
        account_id: AccountId,
        handle: str,
        profile: dict[str, Any],
        state: dict[str, Any],
        now: datetime,
    ) -> None:
        await self.delete(account_id, handle)
        await self.conn.execute(
            sim_devices.insert().values(
                account_id=account_id, handle=handle, profile=profile, state=state, updated_at=now
            )
        )

    async def delete(self, account_id: AccountId, handle: str) -> None:
        await self.conn.execute(
            sim_devices.delete().where(
                sim_devices.c.account_id == account_id, sim_devices.c.handle == handle
            )
        )

    async def get_many(
        self, account_id: AccountId, handles: list[str]
    ) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        if not handles:
            return {}
        rows = await self.conn.execute(
            select(sim_devices.c.handle, sim_devices.c.profile, sim_devices.c.state).where(
                sim_devices.c.account_id == account_id, sim_devices.c.handle.in_(handles)
            )
        )
        return {r.handle: (r.profile, r.state) for r in rows}

    async def known_handles(
        self, account_id: AccountId, after: str | None, limit: int
    ) -> list[str]:
        """Handles the account has touched (configured, or in one of its chats), in order,
        one page at a time: a busy account has many, so never all at once."""
        configured = select(sim_devices.c.handle.label("handle")).where(
            sim_devices.c.account_id == account_id
        )
        in_chats = (
            select(chat_handles.c.handle.label("handle"))
            .join(chats, chats.c.id == chat_handles.c.chat_id)
            .where(chats.c.account_id == account_id, chat_handles.c.is_me.is_(False))
        )
        if after is not None:
            configured = configured.where(sim_devices.c.handle > after)
            in_chats = in_chats.where(chat_handles.c.handle > after)
        both = union(configured, in_chats).subquery()  # UNION removes duplicates
        rows = await self.conn.execute(select(both.c.handle).order_by(both.c.handle).limit(limit))
        return [r.handle for r in rows]
