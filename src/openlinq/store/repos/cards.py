from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from openlinq.domain.ids import AccountId, LineId
from openlinq.store.engine import DbConnection, affected_rows
from openlinq.store.tables import contact_cards, lines


@dataclass(frozen=True, slots=True)
class ContactCard:
    line_id: LineId
    account_id: AccountId
    phone_number: str
    first_name: str
    last_name: str | None
    image_url: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


def _card(row: Any) -> ContactCard:
    return ContactCard(
        LineId(row.line_id),
        AccountId(row.account_id),
        row.phone_number,
        row.first_name,
        row.last_name,
        row.image_url,
        row.is_active,
        row.created_at,
        row.updated_at,
    )


_SELECT = select(contact_cards, lines.c.phone_number).join(
    lines, lines.c.id == contact_cards.c.line_id
)


class ContactCardRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def for_line(self, line_id: LineId) -> ContactCard | None:
        row = (await self.conn.execute(_SELECT.where(contact_cards.c.line_id == line_id))).first()
        return _card(row) if row else None

    async def of_account(self, account_id: AccountId) -> list[ContactCard]:
        rows = await self.conn.execute(
            _SELECT.where(
                contact_cards.c.account_id == account_id, lines.c.released_at.is_(None)
            ).order_by(lines.c.phone_number)
        )
        return [_card(r) for r in rows]

    async def delete(self, line_id: LineId) -> None:
        await self.conn.execute(contact_cards.delete().where(contact_cards.c.line_id == line_id))

    async def save(self, card: ContactCard) -> None:
        values = {
            "first_name": card.first_name,
            "last_name": card.last_name,
            "image_url": card.image_url,
            "is_active": card.is_active,
            "updated_at": card.updated_at,
        }
        result = await self.conn.execute(
            update(contact_cards).where(contact_cards.c.line_id == card.line_id).values(**values)
        )
        if not affected_rows(result):
            await self.conn.execute(
                contact_cards.insert().values(
                    line_id=card.line_id,
                    account_id=card.account_id,
                    created_at=card.created_at,
                    **values,
                )
            )
