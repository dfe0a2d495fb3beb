from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from openlinq.domain.ids import AccountId
from openlinq.store.tables import sim_devices

# Read for every recipient of every send and delivery: built once (see repos/chats.py).
_GET = select(sim_devices.c.profile, sim_devices.c.state).where(
    sim_devices.c.account_id == bindparam("account_id"),
    sim_devices.c.handle == bindparam("handle"),
)


class SimDeviceRepo:
    """Per-account overrides and memory of simulated devices."""

    def __init__(self, conn: AsyncConnection) -> None:
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
