"""What /metrics reads from the database at scrape time: cheap aggregate queries only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.sql import ColumnElement

from openlinq.store.engine import DbConnection
from openlinq.store.tables import OPEN_DELIVERY, jobs, webhook_deliveries
from openlinq.store.types import UTCDateTime


@dataclass(frozen=True, slots=True)
class JobCounts:
    due: int  # runnable now: run_at passed, not leased (or its lease ran out)
    scheduled: int  # waiting for its run_at
    running: int  # leased to a worker
    failed: int  # given up (dead)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0, type_=Integer)


class MonitoringRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def jobs_by_kind(self, now: datetime) -> dict[str, JobCounts]:
        """Every job kind in the table with its due / scheduled / running / failed counts.

        One grouped scan of ``jobs``, which holds only live and dead jobs (done ones are
        deleted), so it stays small while the queue keeps up.
        """
        live = jobs.c.dead_at.is_(None)
        leased = and_(live, jobs.c.locked_until.is_not(None), jobs.c.locked_until >= now)
        free = and_(live, ~leased)
        rows = await self.conn.execute(
            select(
                jobs.c.kind,
                _count(and_(free, jobs.c.run_at <= now)),
                _count(and_(free, jobs.c.run_at > now)),
                _count(leased),
                _count(jobs.c.dead_at.is_not(None)),
            ).group_by(jobs.c.kind)
        )
        return {
            kind: JobCounts(int(due), int(scheduled), int(running), int(failed))
            for kind, due, scheduled, running, failed in rows
        }

    async def oldest_open_delivery(self) -> datetime | None:
        """When the oldest webhook delivery still on its way was created (its event's time).

        The partial index ``ix_webhook_deliveries_open`` holds only open deliveries, so
        this is one index lookup however long the delivery log grows.
        """
        value = await self.conn.execute(
            select(func.min(webhook_deliveries.c.created_at, type_=UTCDateTime)).where(
                OPEN_DELIVERY
            )
        )
        oldest: datetime | None = value.scalar_one_or_none()
        return oldest
