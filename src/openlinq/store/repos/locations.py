from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from openlinq.domain.ids import AccountId, LineId
from openlinq.store.engine import DbConnection
from openlinq.store.tables import location_shares


@dataclass(frozen=True, slots=True)
class LocationShare:
    id: str
    account_id: AccountId
    line_id: LineId
    handle: str
    chat_id: str | None
    longitude: float
    latitude: float
    altitude: float | None
    address: str | None
    locality: str | None
    began_at: datetime
    ends_at: datetime | None
    updated_at: datetime


def _share(row: Any) -> LocationShare:
    return LocationShare(
        row.id,
        AccountId(row.account_id),
        LineId(row.line_id),
        row.handle,
        row.chat_id,
        row.longitude,
        row.latitude,
        row.altitude,
        row.address,
        row.locality,
        row.began_at,
        row.ends_at,
        row.updated_at,
    )


class LocationRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def active(
        self, line_id: LineId, handles: list[str], now: datetime
    ) -> list[LocationShare]:
        """Shares with this line from these handles that have not stopped or run out."""
        rows = await self.conn.execute(
            select(location_shares).where(
                location_shares.c.line_id == line_id,
                location_shares.c.handle.in_(handles),
                location_shares.c.stopped_at.is_(None),
                or_(location_shares.c.ends_at.is_(None), location_shares.c.ends_at > now),
            )
        )
        return [_share(r) for r in rows]

    async def start(self, share: LocationShare) -> None:
        await self.conn.execute(
            location_shares.insert().values(
                id=share.id,
                account_id=share.account_id,
                line_id=share.line_id,
                handle=share.handle,
                chat_id=share.chat_id,
                longitude=share.longitude,
                latitude=share.latitude,
                altitude=share.altitude,
                address=share.address,
                locality=share.locality,
                began_at=share.began_at,
                ends_at=share.ends_at,
                updated_at=share.updated_at,
            )
        )

    async def move(self, share_id: str, **values: Any) -> None:
        await self.conn.execute(
            update(location_shares).where(location_shares.c.id == share_id).values(**values)
        )

    async def stop(self, share_id: str, now: datetime) -> None:
        await self.conn.execute(
            update(location_shares).where(location_shares.c.id == share_id).values(stopped_at=now)
        )
