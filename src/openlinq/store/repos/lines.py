from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update

from openlinq.domain.ids import AccountId, LineId
from openlinq.domain.models import Line, LineStatus, LineType, Reputation
from openlinq.store.engine import DbConnection, affected_rows
from openlinq.store.prepared import prepare
from openlinq.store.rows import member_of
from openlinq.store.tables import lines

# Statements on the send and delivery paths, built once (see repos/chats.py).
_BY_ID = select(lines).where(
    lines.c.account_id == bindparam("account_id"), lines.c.id == bindparam("line_id")
)
_LAST_USED = select(func.max(lines.c.last_used_at)).where(
    lines.c.account_id
    == select(lines.c.account_id).where(lines.c.id == bindparam("line_id")).scalar_subquery()
)
_TOUCH = (
    update(lines).where(lines.c.id == bindparam("target_id")).values(last_used_at=bindparam("now"))
)
_other = lines.alias("other")
# The usual case in one statement: the clock has moved past every use of the account's lines.
_TOUCH_IF_LATEST = _TOUCH.where(
    ~select(_other.c.id)
    .where(_other.c.account_id == lines.c.account_id, _other.c.last_used_at >= bindparam("now"))
    .exists()
)

# Run by every send, read or delivery: through the driver on SQLite (store/prepared.py).
prepare(_BY_ID, _LAST_USED, _TOUCH, _TOUCH_IF_LATEST)


_LINE_TYPE = member_of(LineType)
_LINE_STATUS = member_of(LineStatus)
_REPUTATION = member_of(Reputation)


def line_from_row(row: Any) -> Line:
    return Line(
        id=LineId(row.id),
        account_id=AccountId(row.account_id),
        phone_number=row.phone_number,
        line_type=_LINE_TYPE(row.line_type),
        rcs_enabled=row.rcs_enabled,
        status=_LINE_STATUS(row.status),
        reputation=_REPUTATION(row.reputation),
        forwarding_number=row.forwarding_number,
        last_used_at=row.last_used_at,
        created_at=row.created_at,
        retention_hours=row.retention_hours,
        released_at=row.released_at,
        zero_retention=row.zero_retention,
        sim_group_update_error=row.sim_group_update_error,
    )


class LineRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def add(self, line: Line) -> None:
        await self.conn.execute(
            lines.insert().values(
                id=line.id,
                account_id=line.account_id,
                phone_number=line.phone_number,
                line_type=line.line_type.value,
                rcs_enabled=line.rcs_enabled,
                status=line.status.value,
                reputation=line.reputation.value,
                forwarding_number=line.forwarding_number,
                last_used_at=line.last_used_at,
                created_at=line.created_at,
                retention_hours=line.retention_hours,
                released_at=line.released_at,
                zero_retention=line.zero_retention,
                sim_group_update_error=line.sim_group_update_error,
            )
        )

    async def of_account(self, account_id: AccountId) -> list[Line]:
        rows = await self.conn.execute(
            select(lines)
            .where(lines.c.account_id == account_id)
            .order_by(lines.c.created_at, lines.c.phone_number)
        )
        return [line_from_row(r) for r in rows]

    async def get(self, account_id: AccountId, line_id: LineId) -> Line | None:
        row = (
            await self.conn.execute(_BY_ID, {"account_id": account_id, "line_id": line_id})
        ).first()
        return line_from_row(row) if row else None

    async def by_number(
        self, account_id: AccountId, phone_number: str, *, released: bool = False
    ) -> Line | None:
        """The account's line with this number; a released one only with ``released``."""
        query = select(lines).where(
            lines.c.account_id == account_id, lines.c.phone_number == phone_number
        )
        if not released:
            query = query.where(lines.c.released_at.is_(None))
        row = (await self.conn.execute(query)).first()
        return line_from_row(row) if row else None

    async def set_released(self, line_id: LineId, released_at: datetime | None) -> None:
        await self.conn.execute(
            update(lines).where(lines.c.id == line_id).values(released_at=released_at)
        )

    async def set_zero_retention(self, line_id: LineId, enabled: bool) -> None:
        await self.conn.execute(
            update(lines).where(lines.c.id == line_id).values(zero_retention=enabled)
        )

    async def set_group_update_error(self, line_id: LineId, code: int | None) -> None:
        await self.conn.execute(
            update(lines).where(lines.c.id == line_id).values(sim_group_update_error=code)
        )

    async def number_taken(self, phone_number: str) -> bool:
        row = await self.conn.execute(
            select(lines.c.id).where(lines.c.phone_number == phone_number)
        )
        return row.first() is not None

    async def set_forwarding(self, line_id: LineId, forwarding_number: str | None) -> None:
        await self.conn.execute(
            update(lines).where(lines.c.id == line_id).values(forwarding_number=forwarding_number)
        )

    async def touch(self, line_id: LineId, now: datetime) -> None:
        """Record a use of the line, for least-recently-used rotation.

        Uses within an account stay strictly ordered even when the clock has not moved
        (a manual clock, or two uses in one tick), so rotation never stalls on a tie.
        """
        params = {"target_id": line_id, "now": now}
        if affected_rows(await self.conn.execute(_TOUCH_IF_LATEST, params)):
            return
        latest = (await self.conn.execute(_LAST_USED, {"line_id": line_id})).scalar()
        if latest is not None and latest >= now:
            now = latest + timedelta(microseconds=1)
        await self.conn.execute(_TOUCH, {"target_id": line_id, "now": now})

    async def get_by_id(self, line_id: LineId) -> Line | None:
        """Unscoped lookup, for signed links that already prove which line they name."""
        row = (await self.conn.execute(select(lines).where(lines.c.id == line_id))).first()
        return line_from_row(row) if row else None

    async def set_retention(self, line_id: LineId, hours: float | None) -> None:
        await self.conn.execute(
            update(lines).where(lines.c.id == line_id).values(retention_hours=hours)
        )

    async def set_status(self, line_id: LineId, status: LineStatus) -> None:
        await self.conn.execute(
            update(lines).where(lines.c.id == line_id).values(status=status.value)
        )

    async def set_reputation(self, line_id: LineId, reputation: Reputation) -> None:
        await self.conn.execute(
            update(lines).where(lines.c.id == line_id).values(reputation=reputation.value)
        )
