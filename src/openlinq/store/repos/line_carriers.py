"""Which real carrier each line sends through (no row: the simulator), with sealed settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from openlinq.domain.ids import AccountId, LineId
from openlinq.store.engine import DbConnection
from openlinq.store.tables import line_carriers, lines


@dataclass(frozen=True, slots=True)
class LineCarrierRow:
    line_id: LineId
    account_id: AccountId
    phone_number: str
    carrier: str
    token_hash: str
    sealed: str
    updated_at: datetime


_ROWS = select(
    line_carriers,
    lines.c.account_id,
    lines.c.phone_number,
).join(lines, lines.c.id == line_carriers.c.line_id)


def _row(row: Any) -> LineCarrierRow:
    return LineCarrierRow(
        line_id=LineId(row.line_id),
        account_id=AccountId(row.account_id),
        phone_number=row.phone_number,
        carrier=row.carrier,
        token_hash=row.token_hash,
        sealed=row.sealed,
        updated_at=row.updated_at,
    )


class LineCarrierRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def of_line(self, line_id: LineId) -> LineCarrierRow | None:
        row = (await self.conn.execute(_ROWS.where(line_carriers.c.line_id == line_id))).first()
        return _row(row) if row else None

    async def by_number(self, phone_number: str) -> LineCarrierRow | None:
        query = _ROWS.where(lines.c.phone_number == phone_number, lines.c.released_at.is_(None))
        row = (await self.conn.execute(query)).first()
        return _row(row) if row else None

    async def by_token_hash(self, token_hash: str) -> LineCarrierRow | None:
        query = _ROWS.where(line_carriers.c.token_hash == token_hash, lines.c.released_at.is_(None))
        row = (await self.conn.execute(query)).first()
        return _row(row) if row else None

    async def all_of_account(self, account_id: AccountId) -> list[LineCarrierRow]:
        query = _ROWS.where(lines.c.account_id == account_id, lines.c.released_at.is_(None))
        return [_row(r) for r in await self.conn.execute(query)]

    async def all(self) -> list[LineCarrierRow]:
        rows = await self.conn.execute(_ROWS.where(lines.c.released_at.is_(None)))
        return [_row(r) for r in rows]

    async def put(
        self, line_id: LineId, carrier: str, token_hash: str, sealed: str, now: datetime
    ) -> None:
        await self.remove(line_id)
        await self.conn.execute(
            line_carriers.insert().values(
                line_id=line_id,
                carrier=carrier,
                token_hash=token_hash,
                sealed=sealed,
                updated_at=now,
            )
        )

    async def remove(self, line_id: LineId) -> None:
        await self.conn.execute(delete(line_carriers).where(line_carriers.c.line_id == line_id))
