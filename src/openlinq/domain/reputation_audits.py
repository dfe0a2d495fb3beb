"""Reputation audits (POST/GET /v3/phone_numbers/{phoneNumber}/reputation_audit) and the
periodic rescoring of line reputation.

An audit is a row and a job: ``start`` writes it ``pending`` and queues the job, which
scores the line with the reputation model (domain/reputation.py) and completes the
audit with the report, or marks it ``error``. One audit runs at a time per line
(starting again returns the running one); after one completes, a new one waits out a
cooldown (429 with Retry-After). An audit is readable for 24 hours.

A line's ``reputation`` is the model's severity. It is rescored when an audit
completes, when the line is flagged or restored (domain/lines.py), and by a job every
hour for the lines with chat activity since the last run or not HEALTHY; a change emits
``phone_number.status_updated``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timedelta
from typing import Any

from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.handles import parse_phone
from openlinq.domain.ids import new_id
from openlinq.domain.lines import record_line_change
from openlinq.domain.models import Account, AuditStatus, Line, Reputation, ReputationAudit
from openlinq.domain.reputation import WINDOW, evaluate
from openlinq.domain.reputation_views import report_view
from openlinq.jobs.runner import JobQueue
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

log = logging.getLogger(__name__)

AUDIT_JOB = "reputation.audit"
REFRESH_JOB = "reputation.refresh"
REFRESH_EVERY_SECONDS = 3600.0
COOLDOWN = timedelta(minutes=10)
READABLE_FOR = timedelta(hours=24)
# Lines scored per read transaction by the periodic job (the loop is served between two).
REFRESH_BATCH = 20
FAILED = "The audit could not be completed; start a new one."


class ReputationService:
    def __init__(self, storage: Storage, clock: Clock, queue: JobQueue, events: EventLog) -> None:
        self.storage = storage
        self.clock = clock
        self.queue = queue
        self.events = events

    async def start(self, account: Account, phone_number: str) -> ReputationAudit:
        """A new pending audit, the running one, or 429 while the last one cools down."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            line = await _line(repos, account, phone_number)
            await repos.locks.hold(f"reputation-audit:{line.id}")
            latest = await repos.reputation.latest_audit(line.id)
            if latest is not None and latest.status is AuditStatus.PENDING:
                return latest
            if latest is not None and latest.status is AuditStatus.COMPLETE:
                assert latest.finished_at is not None
                wait = (latest.finished_at + COOLDOWN - now).total_seconds()
                if wait > 0:
                    raise LinqError(
                        ErrorCode.RATE_LIMITED,
                        f"an audit of {line.phone_number} finished recently; "
                        f"start the next one in {math.ceil(wait)} s",
                        retry_after=math.ceil(wait),
                        retryable=False,
                    )
            audit = ReputationAudit(
                id=new_id(),
                account_id=account.id,
                line_id=line.id,
                status=AuditStatus.PENDING,
                created_at=now,
            )
            await repos.reputation.add_audit(audit)
            await self.queue.schedule(repos, AUDIT_JOB, {"audit_id": audit.id})
        return audit

    async def get(
        self, account: Account, phone_number: str, audit_id: str
    ) -> tuple[ReputationAudit, Line]:
        """An audit of this line, for 24 hours; 404 for another line's or an unknown one."""
        now = self.clock.now()
        async with self.storage.read() as repos:
            line = await _line(repos, account, phone_number)
            audit = await repos.reputation.audit(line.id, audit_id)
        if audit is None or audit.created_at + READABLE_FOR <= now:
            raise LinqError(
                ErrorCode.ACCESS_DENIED,
                f"reputation audit {audit_id} not found for {line.phone_number}",
                http_status=404,
            )
        return audit, line

    async def run_audit(self, payload: dict[str, Any]) -> None:
        """The audit job: score the line, complete the audit, rescore the line."""
        audit_id = str(payload["audit_id"])
        now = self.clock.now()
        try:
            async with self.storage.read() as repos:
                audit = await repos.reputation.audit_any(audit_id)
                if audit is None or audit.status is not AuditStatus.PENDING:
                    return  # already done (a job run twice)
                line = await repos.lines.get(audit.account_id, audit.line_id)
                if line is None:
                    raise LookupError(f"line {audit.line_id} is gone")
                report = await evaluate(repos, line, now)
            async with self.storage.write() as repos:
                await repos.reputation.finish_audit(
                    audit_id, AuditStatus.COMPLETE, now, report=report_view(report)
                )
                await self._rescored(repos, line, report.severity, now)
        except Exception:
            # The caller polls for an outcome: a failure is the audit's, not the job's.
            log.exception("reputation audit %s failed", audit_id)
            async with self.storage.write() as repos:
                await repos.reputation.finish_audit(audit_id, AuditStatus.ERROR, now, error=FAILED)

    async def _rescored(
        self, repos: Repos, scored: Line, reputation: Reputation, now: datetime
    ) -> None:
        """Store a line's new score, unless the line changed status since it was scored."""
        current = await repos.lines.get(scored.account_id, scored.id)
        if current is not None and current.status is scored.status:
            await record_line_change(self.events, repos, current, current.status, reputation, now)

    async def ensure_scheduled(self) -> None:
        """Make sure exactly one periodic rescoring is queued (called at start)."""
        async with self.storage.write() as repos:
            await repos.locks.hold(REFRESH_JOB)
            if not await repos.jobs.pending_of_kind(REFRESH_JOB):
                await self.queue.schedule(repos, REFRESH_JOB, {}, delay=REFRESH_EVERY_SECONDS)

    async def refresh(self, payload: dict[str, Any]) -> None:
        """The periodic job: rescore the lines that may have moved, forget expired audits."""
        now = self.clock.now()
        since = datetime.fromisoformat(payload["since"]) if "since" in payload else now - WINDOW
        async with self.storage.read() as repos:
            ids = await repos.reputation.lines_to_rescore(since)
        for start in range(0, len(ids), REFRESH_BATCH):
            async with self.storage.read() as repos:
                scored = []
                for line_id in ids[start : start + REFRESH_BATCH]:
                    line = await repos.lines.get_by_id(line_id)
                    if line is not None:
                        scored.append((line, (await evaluate(repos, line, now)).severity))
            changed = [(line, score) for line, score in scored if score is not line.reputation]
            if changed:
                async with self.storage.write() as repos:
                    for line, score in changed:
                        await self._rescored(repos, line, score, now)
            await asyncio.sleep(0)  # requests waiting on the loop go before the next batch
        async with self.storage.write() as repos:
            await repos.reputation.forget_audits(now - READABLE_FOR)
            await self.queue.schedule(
                repos, REFRESH_JOB, {"since": now.isoformat()}, delay=REFRESH_EVERY_SECONDS
            )


async def _line(repos: Repos, account: Account, phone_number: str) -> Line:
    number = parse_phone(phone_number, "phone_number")
    line = await repos.lines.by_number(account.id, number)
    if line is None:
        raise LinqError(
            ErrorCode.ACCESS_DENIED, f"phone number {number} not found", http_status=404
        )
    return line
