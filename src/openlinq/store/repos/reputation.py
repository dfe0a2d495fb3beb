"""Reputation: the aggregate signals of one line, and the audits' rows.

Every signal is one aggregate query bounded by a time window. Messages are reached
through the line's chats active in the window (``ix_chats_account_activity``) and, per
chat, from the first message of the window on (``ix_messages_chat_seq``): ``seq`` grows
with ``created_at``, so the window's first ``seq`` is found by bisecting the primary key
instead of scanning ``created_at``, which has no index (and gets none: every insert would
pay for it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, delete, desc, func, or_, select, update

from openlinq.domain.ids import AccountId, ChatId, LineId
from openlinq.domain.models import (
    AuditStatus,
    ChatHealth,
    Direction,
    LineStatus,
    Reputation,
    ReputationAudit,
)
from openlinq.store.engine import DbConnection, affected_rows
from openlinq.store.tables import chats, lines, messages, opt_outs, reactions, reputation_audits

_OUT = messages.c.direction == Direction.OUTBOUND.value
_IN = messages.c.direction == Direction.INBOUND.value
_UNHEALTHY = (ChatHealth.CRITICAL.value, ChatHealth.OPTED_OUT.value, ChatHealth.AT_RISK.value)


class MessageCounts(NamedTuple):
    sent: int
    failed: int
    received: int
    sent_today: int
    received_today: int
    reactions: int
    reactions_today: int


class NewConversations(NamedTuple):
    started: int  # by the line, in the window
    engaged: int  # of those, with enough inbound messages
    started_today: int


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _audit(row: Any) -> ReputationAudit:
    return ReputationAudit(
        id=row.id,
        account_id=AccountId(row.account_id),
        line_id=LineId(row.line_id),
        status=AuditStatus(row.status),
        created_at=row.created_at,
        error=row.error,
        report=row.report,
        generated_at=row.generated_at,
        finished_at=row.finished_at,
    )


class ReputationRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    # -- signals ------------------------------------------------------------------------------

    def _active_chats(
        self, account_id: AccountId, line_id: LineId, since: datetime
    ) -> list[ColumnElement[bool]]:
        return [
            chats.c.account_id == account_id,
            chats.c.line_id == line_id,
            chats.c.last_activity_at >= since,
        ]

    async def first_message_since(self, since: datetime) -> int:
        """The lowest ``seq`` of a message created at ``since`` or later (past the end if none).

        A bisection over the primary key: about 20 lookups for a million messages.
        """
        # Two statements: SQLite reads a lone min() or max() off the index's end, not both.
        lowest = (await self.conn.execute(select(func.min(messages.c.seq)))).scalar()
        highest = (await self.conn.execute(select(func.max(messages.c.seq)))).scalar()
        if lowest is None or highest is None:
            return 0
        lo, hi = int(lowest), int(highest) + 1
        while lo < hi:
            mid = (lo + hi) // 2
            row = (
                await self.conn.execute(
                    select(messages.c.seq, messages.c.created_at)
                    .where(messages.c.seq >= mid)
                    .order_by(messages.c.seq)
                    .limit(1)
                )
            ).first()
            if row is None or row.created_at >= since:
                hi = mid
            else:
                lo = int(row.seq) + 1
        return lo

    async def message_counts(
        self,
        account_id: AccountId,
        line_id: LineId,
        since: datetime,
        today: datetime,
        first_seq: int,
    ) -> MessageCounts:
        recent = messages.c.created_at >= today
        in_window = [
            *self._active_chats(account_id, line_id, since),
            messages.c.seq >= first_seq,
            messages.c.created_at >= since,
        ]
        joined = chats.join(messages, messages.c.chat_id == chats.c.id)
        counted = (
            await self.conn.execute(
                select(
                    _count(_OUT),
                    _count(and_(_OUT, messages.c.delivery_status == "failed")),
                    _count(_IN),
                    _count(and_(_OUT, recent)),
                    _count(and_(_IN, recent)),
                )
                .select_from(joined)
                .where(*in_window)
            )
        ).one()
        # Tapbacks count as responses (FAQ); those on the window's messages are counted.
        reacted = (
            await self.conn.execute(
                select(func.count(reactions.c.id), _count(reactions.c.created_at >= today))
                .select_from(joined.join(reactions, reactions.c.message_id == messages.c.id))
                .where(*in_window, _OUT, reactions.c.is_me.is_(False))
            )
        ).one()
        return MessageCounts(*(int(v) for v in (*counted, *reacted)))

    async def chat_health_counts(
        self, account_id: AccountId, line_id: LineId, since: datetime
    ) -> dict[ChatHealth, int]:
        rows = await self.conn.execute(
            select(chats.c.health, func.count())
            .where(*self._active_chats(account_id, line_id, since))
            .group_by(chats.c.health)
        )
        return {ChatHealth(health): int(n) for health, n in rows}

    async def new_conversations(
        self,
        account_id: AccountId,
        line_id: LineId,
        since: datetime,
        today: datetime,
        engaged: int,
    ) -> NewConversations:
        """Chats created in the window whose first message the line sent, and how many of
        them have ``engaged`` inbound messages (counting stops there, per chat)."""
        first = (
            select(messages.c.direction)
            .where(messages.c.chat_id == chats.c.id)
            .order_by(messages.c.seq)
            .limit(1)
            .scalar_subquery()
        )
        # The chat's ``engaged``-th inbound message, if it has one: the walk stops there.
        engaged_at = (
            select(messages.c.seq)
            .where(messages.c.chat_id == chats.c.id, _IN)
            .order_by(messages.c.seq)
            .offset(engaged - 1)
            .limit(1)
            .scalar_subquery()
        )
        new = (
            select(
                chats.c.created_at.label("created_at"),
                first.label("first"),
                engaged_at.label("engaged_at"),
            )
            .where(*self._active_chats(account_id, line_id, since), chats.c.created_at >= since)
            .subquery()
        )
        started = new.c.first == Direction.OUTBOUND.value
        row = (
            await self.conn.execute(
                select(
                    _count(started),
                    _count(and_(started, new.c.engaged_at.is_not(None))),
                    _count(and_(started, new.c.created_at >= today)),
                )
            )
        ).one()
        return NewConversations(*(int(v) for v in row))

    async def unhealthy_chats(
        self, account_id: AccountId, line_id: LineId, since: datetime, limit: int
    ) -> list[tuple[ChatId, ChatHealth, datetime]]:
        """Active chats not HEALTHY, worst first (CRITICAL, OPTED_OUT, AT_RISK; latest first)."""
        worst = case({h: i for i, h in enumerate(_UNHEALTHY)}, value=chats.c.health)
        rows = await self.conn.execute(
            select(chats.c.id, chats.c.health, chats.c.created_at)
            .where(*self._active_chats(account_id, line_id, since), chats.c.health.in_(_UNHEALTHY))
            .order_by(worst, chats.c.health_updated_at.desc(), chats.c.seq.desc())
            .limit(limit)
        )
        return [(ChatId(r.id), ChatHealth(r.health), r.created_at) for r in rows]

    async def opt_outs(
        self, account_id: AccountId, line_id: LineId, since: datetime, limit: int
    ) -> tuple[list[tuple[ChatId, int]], int]:
        """Opt-outs marked on the line's chats: (chat, outbound messages sent after the stop)
        for those in the window or with activity since the stop, most messages first; and
        how many opted out in the window."""
        after = (
            select(func.count())
            .where(
                messages.c.chat_id == opt_outs.c.chat_id,
                _OUT,
                messages.c.created_at > opt_outs.c.opted_out_at,
            )
            .scalar_subquery()
            .label("after")
        )
        on_line = opt_outs.join(chats, chats.c.id == opt_outs.c.chat_id)
        scope = [opt_outs.c.account_id == account_id, chats.c.line_id == line_id]
        rows = await self.conn.execute(
            select(opt_outs.c.chat_id, after)
            .select_from(on_line)
            .where(
                *scope,
                or_(
                    opt_outs.c.opted_out_at >= since,
                    chats.c.last_activity_at > opt_outs.c.opted_out_at,
                ),
            )
            .order_by(desc("after"), opt_outs.c.opted_out_at.desc(), opt_outs.c.chat_id)
            .limit(limit)
        )
        found = [(ChatId(r.chat_id), int(r.after)) for r in rows]
        recent = (
            await self.conn.execute(
                select(func.count())
                .select_from(on_line)
                .where(*scope, opt_outs.c.opted_out_at >= since)
            )
        ).scalar_one()
        return found, int(recent)

    async def lines_to_rescore(self, since: datetime) -> list[LineId]:
        """Lines whose score may have moved: traffic since ``since``, or not HEALTHY/ACTIVE."""
        # Per line, its account's chats active since then (ix_chats_account_activity):
        # no scan of the chats table.
        active = (
            select(chats.c.id)
            .where(
                chats.c.account_id == lines.c.account_id,
                chats.c.last_activity_at >= since,
                chats.c.line_id == lines.c.id,
            )
            .exists()
        )
        rows = await self.conn.execute(
            select(lines.c.id)
            .where(
                or_(
                    active,
                    lines.c.reputation != Reputation.HEALTHY.value,
                    lines.c.status != LineStatus.ACTIVE.value,
                )
            )
            .order_by(lines.c.id)
        )
        return [LineId(r.id) for r in rows]

    # -- audits -------------------------------------------------------------------------------

    async def add_audit(self, audit: ReputationAudit) -> None:
        await self.conn.execute(
            reputation_audits.insert().values(
                id=audit.id,
                account_id=audit.account_id,
                line_id=audit.line_id,
                status=audit.status.value,
                created_at=audit.created_at,
            )
        )

    async def audit(self, line_id: LineId, audit_id: str) -> ReputationAudit | None:
        row = (
            await self.conn.execute(
                select(reputation_audits).where(
                    reputation_audits.c.line_id == line_id, reputation_audits.c.id == audit_id
                )
            )
        ).first()
        return _audit(row) if row else None

    async def audit_any(self, audit_id: str) -> ReputationAudit | None:
        row = (
            await self.conn.execute(
                select(reputation_audits).where(reputation_audits.c.id == audit_id)
            )
        ).first()
        return _audit(row) if row else None

    async def latest_audit(self, line_id: LineId) -> ReputationAudit | None:
        row = (
            await self.conn.execute(
                select(reputation_audits)
                .where(reputation_audits.c.line_id == line_id)
                # A pending audit wins a tie (a manual clock: an error, then a new start).
                .order_by(
                    reputation_audits.c.created_at.desc(),
                    reputation_audits.c.finished_at.is_(None).desc(),
                )
                .limit(1)
            )
        ).first()
        return _audit(row) if row else None

    async def finish_audit(
        self,
        audit_id: str,
        status: AuditStatus,
        now: datetime,
        *,
        report: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        await self.conn.execute(
            update(reputation_audits)
            .where(
                reputation_audits.c.id == audit_id,
                reputation_audits.c.status == AuditStatus.PENDING.value,
            )
            .values(
                status=status.value,
                report=report,
                error=error,
                generated_at=now if report is not None else None,
                finished_at=now,
            )
        )

    async def forget_audits(self, before: datetime) -> int:
        """Delete audits created before ``before`` (no longer readable)."""
        return affected_rows(
            await self.conn.execute(
                delete(reputation_audits).where(reputation_audits.c.created_at < before)
            )
        )
