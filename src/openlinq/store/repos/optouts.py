from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select

from openlinq.domain.ids import AccountId
from openlinq.store.engine import DbConnection
from openlinq.store.prepared import prepare
from openlinq.store.tables import opt_outs

# Checked on every direct send: built once (see repos/chats.py).
_OPTED_OUT = select(opt_outs.c.handle).where(
    opt_outs.c.account_id == bindparam("account_id"),
    opt_outs.c.handle.in_(bindparam("handles", expanding=True)),
)
prepare(_OPTED_OUT)  # through the driver on SQLite (store/prepared.py)


class OptOutRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def opted_out(self, account_id: AccountId, handles: list[str]) -> list[str]:
        rows = await self.conn.execute(_OPTED_OUT, {"account_id": account_id, "handles": handles})
        return [r.handle for r in rows]

    async def add(
        self, account_id: AccountId, handle: str, chat_id: str, keyword: str, now: datetime
    ) -> None:
        await self.remove(account_id, handle)
        await self.conn.execute(
            opt_outs.insert().values(
                account_id=account_id,
                handle=handle,
                chat_id=chat_id,
                keyword=keyword,
                opted_out_at=now,
            )
        )

    async def remove(self, account_id: AccountId, handle: str) -> str | None:
        """Clear an opt-out; returns the chat it was marked on, if there was one."""
        row = (
            await self.conn.execute(
                select(opt_outs.c.chat_id).where(
                    opt_outs.c.account_id == account_id, opt_outs.c.handle == handle
                )
            )
        ).first()
        if row is None:
            return None
        await self.conn.execute(
            opt_outs.delete().where(
                opt_outs.c.account_id == account_id, opt_outs.c.handle == handle
            )
        )
        return str(row.chat_id)
