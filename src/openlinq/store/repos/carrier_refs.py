"""A real carrier's own ids for our messages and chats, per line (see tables.carrier_refs).

Every lookup a carrier's callback makes is by the table's key (line, kind, external id)
or by the message / chat id (indexed), so a receipt costs one index probe however many
messages the account has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from openlinq.domain.ids import ChatId, LineId, MessageId
from openlinq.store.engine import DbConnection, affected_rows
from openlinq.store.tables import carrier_refs

MESSAGE = "message"
CHAT = "chat"
_KEY = ("line_id", "kind", "external_id")


@dataclass(frozen=True, slots=True)
class MessageRef:
    """One part of a message as the carrier knows it (a whole message is part 0 of 1)."""

    external_id: str
    message_id: MessageId
    part: int
    parts: int
    delivered: bool


def _message_ref(row: Any) -> MessageRef:
    return MessageRef(
        row.external_id, MessageId(row.message_id), row.part, row.parts, row.delivered
    )


class CarrierRefRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def _put(self, values: dict[str, Any]) -> None:
        """Insert unless the line already knows the external id (the first mapping stays)."""
        if self.conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            await self.conn.execute(
                pg_insert(carrier_refs).values(values).on_conflict_do_nothing(index_elements=_KEY)
            )
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            await self.conn.execute(
                sqlite_insert(carrier_refs)
                .values(values)
                .on_conflict_do_nothing(index_elements=_KEY)
            )

    async def put_message(
        self,
        line_id: LineId,
        external_id: str,
        message_id: MessageId,
        now: datetime,
        *,
        part: int = 0,
        parts: int = 1,
    ) -> None:
        """Remember the carrier's id of ``message_id`` (of one of its ``parts``)."""
        await self._put(
            {
                "line_id": line_id,
                "kind": MESSAGE,
                "external_id": external_id,
                "message_id": message_id,
                "chat_id": None,
                "part": part,
                "parts": parts,
                "delivered": False,
                "created_at": now,
            }
        )

    async def put_chat(
        self, line_id: LineId, external_id: str, chat_id: ChatId, now: datetime
    ) -> None:
        """Remember the carrier's id of ``chat_id``."""
        await self._put(
            {
                "line_id": line_id,
                "kind": CHAT,
                "external_id": external_id,
                "message_id": None,
                "chat_id": chat_id,
                "part": 0,
                "parts": 1,
                "delivered": False,
                "created_at": now,
            }
        )

    async def message_for(self, line_id: LineId, external_id: str) -> MessageId | None:
        """Our message the line's carrier calls ``external_id``."""
        found = await self.find_message(line_id, [external_id])
        return None if found is None else found.message_id

    async def find_message(self, line_id: LineId, external_ids: Sequence[str]) -> MessageRef | None:
        """The part whose carrier id is any of ``external_ids`` (one id, several spellings)."""
        if not external_ids:
            return None
        row = (
            await self.conn.execute(
                select(carrier_refs)
                .where(
                    carrier_refs.c.line_id == line_id,
                    carrier_refs.c.kind == MESSAGE,
                    carrier_refs.c.external_id.in_(list(external_ids)),
                )
                .limit(1)
            )
        ).first()
        return None if row is None else _message_ref(row)

    async def chat_for(self, line_id: LineId, external_id: str) -> ChatId | None:
        """Our chat the line's carrier calls ``external_id``."""
        row = (
            await self.conn.execute(
                select(carrier_refs.c.chat_id).where(
                    carrier_refs.c.line_id == line_id,
                    carrier_refs.c.kind == CHAT,
                    carrier_refs.c.external_id == external_id,
                )
            )
        ).first()
        return None if row is None or row.chat_id is None else ChatId(row.chat_id)

    async def ref_of_message(self, message_id: MessageId) -> str | None:
        """The carrier's id of ``message_id`` (of its first part)."""
        row = (
            await self.conn.execute(
                select(carrier_refs.c.external_id)
                .where(carrier_refs.c.message_id == message_id)
                .order_by(carrier_refs.c.part)
                .limit(1)
            )
        ).first()
        return None if row is None else str(row.external_id)

    async def ref_of_chat(self, chat_id: ChatId) -> str | None:
        """The carrier's id of ``chat_id``."""
        row = (
            await self.conn.execute(
                select(carrier_refs.c.external_id).where(carrier_refs.c.chat_id == chat_id).limit(1)
            )
        ).first()
        return None if row is None else str(row.external_id)

    async def parts_of(self, message_id: MessageId) -> dict[int, str]:
        """The parts of ``message_id`` the carrier has accepted, with their ids."""
        rows = await self.conn.execute(
            select(carrier_refs.c.part, carrier_refs.c.external_id).where(
                carrier_refs.c.message_id == message_id, carrier_refs.c.kind == MESSAGE
            )
        )
        return {row.part: row.external_id for row in rows}

    async def mark_delivered(self, line_id: LineId, external_id: str) -> bool:
        """Record that one part was delivered; False if it was already (a receipt twice)."""
        result = await self.conn.execute(
            update(carrier_refs)
            .where(
                carrier_refs.c.line_id == line_id,
                carrier_refs.c.kind == MESSAGE,
                carrier_refs.c.external_id == external_id,
                carrier_refs.c.delivered.is_(False),
            )
            .values(delivered=True)
        )
        return bool(affected_rows(result))

    async def delivered_parts(self, message_id: MessageId) -> int:
        row = (
            await self.conn.execute(
                select(func.count()).where(
                    carrier_refs.c.message_id == message_id, carrier_refs.c.delivered.is_(True)
                )
            )
        ).one()
        return int(row[0])

    async def forget_message(self, message_id: MessageId) -> int:
        """Drop the message's refs (nothing more is awaited from the carrier); how many."""
        result = await self.conn.execute(
            delete(carrier_refs).where(carrier_refs.c.message_id == message_id)
        )
        return affected_rows(result)
