from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, or_, select, text, update

from openlinq.domain.ids import JobId, new_id
from openlinq.store.engine import DbConnection, affected_rows
from openlinq.store.prepared import prepare
from openlinq.store.tables import jobs

JOBS_CHANNEL = "openlinq_jobs"

# Every job is enqueued, claimed and completed with these: built once, so SQLAlchemy finds
# their compiled form by identity instead of building and hashing new statements each time.
_ENQUEUE = jobs.insert()
_NOTIFY = text("SELECT pg_notify(:channel, '')")

# Run by every send, read or delivery: through the driver on SQLite (store/prepared.py).
prepare(_ENQUEUE)


def _claim(*, of_kinds: bool) -> Any:
    """Lease the due jobs and return them, in one statement (SQLite >= 3.35 and
    PostgreSQL both have UPDATE ... RETURNING). ``FOR UPDATE SKIP LOCKED`` in the
    subquery lets PostgreSQL workers claim side by side; SQLite has one writer anyway."""
    due = (
        select(jobs.c.id)
        .where(
            jobs.c.dead_at.is_(None),
            jobs.c.run_at <= bindparam("now"),
            or_(jobs.c.locked_until.is_(None), jobs.c.locked_until < bindparam("now")),
        )
        .order_by(jobs.c.run_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    if of_kinds:
        due = due.where(jobs.c.kind.in_(bindparam("kinds", expanding=True)))
    return (
        update(jobs)
        .where(jobs.c.id.in_(due.scalar_subquery()))
        .values(
            locked_by=bindparam("worker"),
            locked_until=bindparam("until"),
            attempts=jobs.c.attempts + 1,
        )
        .returning(
            jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.run_at, jobs.c.attempts, jobs.c.trace_id
        )
    )


_CLAIM = _claim(of_kinds=False)
_CLAIM_OF_KINDS = _claim(of_kinds=True)
# The due time of the first job not leased now: in ix_jobs_due's order, past the few
# leased rows at its front (a min() over CASE would read every row, 5 ms at 10k jobs).
_NEXT_CLAIMABLE = (
    select(jobs.c.run_at)
    .where(
        jobs.c.dead_at.is_(None),
        or_(jobs.c.locked_until.is_(None), jobs.c.locked_until < bindparam("now")),
    )
    .order_by(jobs.c.run_at)
    .limit(1)
)
_COMPLETE = jobs.delete().where(
    jobs.c.id.in_(bindparam("ids", expanding=True)), jobs.c.locked_by == bindparam("worker")
)


@dataclass(frozen=True, slots=True)
class Job:
    id: JobId
    kind: str
    payload: dict[str, Any]
    run_at: datetime
    attempts: int
    trace_id: str | None


@dataclass(frozen=True, slots=True)
class PendingJob:
    kind: str
    run_at: datetime
    attempts: int
    locked_until: datetime | None
    last_error: str | None


def _live_except(kinds: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """Conditions for jobs not yet done or buried, leaving out ``kinds``."""
    conditions: list[ColumnElement[bool]] = [jobs.c.dead_at.is_(None)]
    if kinds:
        conditions.append(jobs.c.kind.not_in(kinds))
    return conditions


class JobRepo:
    """The durable queue: every deferred piece of work is a row here."""

    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def enqueue(
        self, kind: str, payload: dict[str, Any], run_at: datetime, trace_id: str | None
    ) -> JobId:
        job_id = JobId(new_id())
        await self.conn.execute(
            _ENQUEUE,
            {
                "id": job_id,
                "kind": kind,
                "payload": payload,
                "run_at": run_at,
                "attempts": 0,
                "trace_id": trace_id,
                "created_at": run_at,
            },
        )
        return job_id

    async def enqueue_many(
        self, kind: str, payloads: list[dict[str, Any]], run_at: datetime, trace_id: str | None
    ) -> None:
        """``enqueue`` for several jobs of one kind, in one statement."""
        await self.conn.execute(
            _ENQUEUE,
            [
                {
                    "id": new_id(),
                    "kind": kind,
                    "payload": payload,
                    "run_at": run_at,
                    "attempts": 0,
                    "trace_id": trace_id,
                    "created_at": run_at,
                }
                for payload in payloads
            ],
        )

    async def claim(
        self,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        kinds: list[str] | None = None,
    ) -> list[Job]:
        """Lease up to ``limit`` due jobs (of ``kinds``, when given) to ``worker``.

        ``FOR UPDATE SKIP LOCKED`` lets several PostgreSQL workers claim side by
        side; SQLite ignores it and relies on its single writer. A lease that
        runs out (a crashed worker) makes the job claimable again.
        """
        params: dict[str, Any] = {
            "now": now,
            "limit": limit,
            "worker": worker,
            "until": now + lease,
        }
        if kinds is None:
            rows = await self.conn.execute(_CLAIM, params)
        else:
            rows = await self.conn.execute(_CLAIM_OF_KINDS, {**params, "kinds": kinds})
        claimed = [
            Job(JobId(r.id), r.kind, r.payload, r.run_at, r.attempts, r.trace_id) for r in rows
        ]
        claimed.sort(key=lambda job: job.run_at)  # RETURNING keeps no order
        return claimed

    async def notify(self) -> None:
        """Wake the other processes' runners when this transaction commits (PostgreSQL)."""
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(_NOTIFY, {"channel": JOBS_CHANNEL})

    async def release_leases(self) -> int:
        """Free every lease: only safe when this process is the only worker (SQLite)."""
        result = await self.conn.execute(
            update(jobs)
            .where(jobs.c.locked_until.is_not(None))
            .values(locked_by=None, locked_until=None)
        )
        return affected_rows(result)

    async def renew_leases(self, worker: str, until: datetime) -> int:
        """Extend every lease ``worker`` still holds: its jobs are alive, not abandoned."""
        result = await self.conn.execute(
            update(jobs)
            .where(jobs.c.locked_by == worker, jobs.c.locked_until.is_not(None))
            .values(locked_until=until)
        )
        return affected_rows(result)

    async def pending(self, limit: int) -> tuple[int, list[PendingJob]]:
        """How many jobs wait (or run), and the ``limit`` due soonest: what the console shows."""
        waiting = jobs.c.dead_at.is_(None)
        total = (await self.conn.execute(select(func.count()).where(waiting))).scalar_one()
        rows = await self.conn.execute(
            select(jobs).where(waiting).order_by(jobs.c.run_at, jobs.c.id).limit(limit)
        )
        return int(total), [
            PendingJob(r.kind, r.run_at, r.attempts, r.locked_until, r.last_error) for r in rows
        ]

    async def pending_of_kind(self, kind: str) -> int:
        result = await self.conn.execute(
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.kind == kind, jobs.c.dead_at.is_(None))
        )
        return int(result.scalar_one())

    async def pending_count(self, exclude_kinds: tuple[str, ...] = ()) -> int:
        """Live jobs (due or not), jobs of ``exclude_kinds`` not counted."""
        result = await self.conn.execute(
            select(func.count()).select_from(jobs).where(*_live_except(exclude_kinds))
        )
        return int(result.scalar_one())

    async def complete_many(self, job_ids: list[JobId], worker: str) -> None:
        """Delete finished jobs (only while this worker still holds their lease)."""
        if job_ids:
            await self.conn.execute(_COMPLETE, {"ids": job_ids, "worker": worker})

    async def retry(self, job_id: JobId, run_at: datetime, error: str) -> None:
        await self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(run_at=run_at, locked_by=None, locked_until=None, last_error=error[:2000])
        )

    async def bury(self, job_id: JobId, now: datetime, error: str) -> None:
        await self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(dead_at=now, locked_by=None, locked_until=None, last_error=error[:2000])
        )

    async def next_claimable_at(self, now: datetime) -> datetime | None:
        """When the next job not leased at ``now`` is due. A leased job (running, or done
        and not yet deleted) is no work for an idle runner: one whose lease runs out
        (a crashed worker's) is found by the runner's periodic poll."""
        value = await self.conn.execute(_NEXT_CLAIMABLE, {"now": now})
        result: datetime | None = value.scalar_one_or_none()
        return result

    async def next_run_at(self, exclude_kinds: tuple[str, ...] = ()) -> datetime | None:
        """When the next live job is due (jobs of ``exclude_kinds`` not counted)."""
        value = await self.conn.execute(
            select(func.min(jobs.c.run_at)).where(*_live_except(exclude_kinds))
        )
        result: datetime | None = value.scalar_one_or_none()
        if isinstance(result, str):  # SQLite aggregates lose the column type
            result = datetime.fromisoformat(result)
        return result
