from __future__ import annotations

from sqlalchemy import select

from openlinq.store.engine import DbConnection
from openlinq.store.tables import server_settings


class SettingsRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def get(self, key: str) -> str | None:
        row = await self.conn.execute(
            select(server_settings.c.value).where(server_settings.c.key == key)
        )
        return row.scalar_one_or_none()

    async def put(self, key: str, value: str) -> None:
        await self.conn.execute(server_settings.delete().where(server_settings.c.key == key))
        await self.conn.execute(server_settings.insert().values(key=key, value=value))
