from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update

from openlinq.domain.ids import AccountId, new_id
from openlinq.store.engine import DbConnection
from openlinq.store.repos.events import StoredEvent
from openlinq.store.tables import (
    events,
    webhook_attempts,
    webhook_deliveries,
    webhook_routing_tokens,
    webhook_subscriptions,
)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    account_id: AccountId
    target_url: str
    secret: str
    subscribed_events: list[str]
    phone_numbers: list[str] | None
    is_active: bool
    routing_id_header: str | None
    routing_key_header: str | None
    failing_since: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    seq: int
    account_id: AccountId
    subscription_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    id: str
    delivery_id: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    response_snippet: str | None
    # The request as sent (None when it was refused before one was built, or logged before 0009).
    request_headers: dict[str, str] | None = None
    request_body: str | None = None
    number: int | None = None  # set when stored; None for attempts logged before 0009


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """A delivery's state after an attempt."""

    delivery_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    updated_at: datetime


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        account_id=AccountId(row.account_id),
        target_url=row.target_url,
        secret=row.secret,
        subscribed_events=list(row.subscribed_events),
        phone_numbers=list(row.phone_numbers) if row.phone_numbers else None,
        is_active=row.is_active,
        routing_id_header=row.routing_id_header,
        routing_key_header=row.routing_key_header,
        failing_since=row.failing_since,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        seq=row.seq,
        account_id=AccountId(row.account_id),
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# Every event looks up its account's subscriptions: built once (see repos/chats.py).
_OF_ACCOUNT = (
    select(webhook_subscriptions)
    .where(webhook_subscriptions.c.account_id == bindparam("account_id"))
    .order_by(webhook_subscriptions.c.created_at, webhook_subscriptions.c.id)
)


# A delivery's fan-out, its attempts and their outcomes go in batches: built once.
_ADD_DELIVERY = webhook_deliveries.insert()
_DELIVERIES = select(webhook_deliveries).where(
    webhook_deliveries.c.id.in_(bindparam("ids", expanding=True))
)
_EVENTS = select(events).where(events.c.id.in_(bindparam("ids", expanding=True)))
_SUBSCRIPTIONS = select(webhook_subscriptions).where(
    webhook_subscriptions.c.id.in_(bindparam("ids", expanding=True))
)
_ATTEMPT_COLUMNS = (
    "id",
    "delivery_id",
    "attempted_at",
    "status_code",
    "latency_ms",
    "error",
    "response_snippet",
    "request_headers",
    "request_body",
)
_ADD_ATTEMPT = webhook_attempts.insert().values(
    **{name: bindparam(f"b_{name}") for name in _ATTEMPT_COLUMNS},
    number=select(func.count() + 1)
    .where(webhook_attempts.c.delivery_id == bindparam("b_delivery_id"))
    .scalar_subquery(),
)
_OUTCOME = (
    update(webhook_deliveries)
    .where(webhook_deliveries.c.id == bindparam("b_id"))
    .values(
        status=bindparam("status"),
        attempts=bindparam("attempts"),
        last_status_code=bindparam("last_status_code"),
        last_error=bindparam("last_error"),
        delivered_at=bindparam("delivered_at"),
        next_attempt_at=bindparam("next_attempt_at"),
        updated_at=bindparam("updated_at"),
    )
)


def _event(row: Any) -> StoredEvent:
    return StoredEvent(
        row.id,
        AccountId(row.account_id),
        row.type,
        row.phone_number,
        row.trace_id,
        row.data,
        row.created_at,
    )


class WebhookRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    # -- subscriptions ------------------------------------------------------------

    async def add(self, subscription: Subscription) -> None:
        await self.conn.execute(
            webhook_subscriptions.insert().values(
                id=subscription.id,
                account_id=subscription.account_id,
                target_url=subscription.target_url,
                secret=subscription.secret,
                subscribed_events=subscription.subscribed_events,
                phone_numbers=subscription.phone_numbers,
                is_active=subscription.is_active,
                routing_id_header=subscription.routing_id_header,
                routing_key_header=subscription.routing_key_header,
                created_at=subscription.created_at,
                updated_at=subscription.updated_at,
            )
        )

    async def get(self, account_id: AccountId, subscription_id: str) -> Subscription | None:
        row = (
            await self.conn.execute(
                select(webhook_subscriptions).where(
                    webhook_subscriptions.c.account_id == account_id,
                    webhook_subscriptions.c.id == subscription_id,
                )
            )
        ).first()
        return _subscription(row) if row else None

    async def by_target(self, account_id: AccountId, target_url: str) -> Subscription | None:
        row = (
            await self.conn.execute(
                select(webhook_subscriptions).where(
                    webhook_subscriptions.c.account_id == account_id,
                    webhook_subscriptions.c.target_url == target_url,
                )
            )
        ).first()
        return _subscription(row) if row else None

    async def of_account(self, account_id: AccountId) -> list[Subscription]:
        rows = await self.conn.execute(_OF_ACCOUNT, {"account_id": account_id})
        return [_subscription(r) for r in rows]

    async def update(self, subscription_id: str, **values: Any) -> None:
        await self.conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == subscription_id)
            .values(**values)
        )

    async def mark_failing(self, subscription_id: str, since: datetime) -> None:
        """Note when an endpoint started failing, unless a concurrent attempt already did:
        the earliest failure is what the disable-after count runs from."""
        await self.conn.execute(
            update(webhook_subscriptions)
            .where(
                webhook_subscriptions.c.id == subscription_id,
                webhook_subscriptions.c.failing_since.is_(None),
            )
            .values(failing_since=since)
        )

    async def delete(self, subscription_id: str) -> None:
        await self.conn.execute(
            webhook_subscriptions.delete().where(webhook_subscriptions.c.id == subscription_id)
        )

    # -- deliveries ---------------------------------------------------------------

    async def add_deliveries(
        self, subscriptions: list[Subscription], event: StoredEvent
    ) -> list[str]:
        """One pending delivery of ``event`` per subscription, in one statement."""
        ids = [new_id() for _ in subscriptions]
        await self.conn.execute(
            _ADD_DELIVERY,
            [
                {
                    "id": delivery_id,
                    "account_id": subscription.account_id,
                    "subscription_id": subscription.id,
                    "event_id": event.id,
                    "event_type": event.type,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": event.created_at,
                    "created_at": event.created_at,
                    "updated_at": event.created_at,
                }
                for delivery_id, subscription in zip(ids, subscriptions, strict=True)
            ],
        )
        return ids

    async def delivery(self, delivery_id: str) -> Delivery | None:
        row = (
            await self.conn.execute(
                select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
            )
        ).first()
        return _delivery(row) if row else None

    async def event(self, event_id: str) -> StoredEvent | None:
        row = (await self.conn.execute(select(events).where(events.c.id == event_id))).first()
        return _event(row) if row else None

    async def deliveries_with_events(
        self, delivery_ids: list[str]
    ) -> dict[str, tuple[Delivery, StoredEvent]]:
        """The deliveries among ``delivery_ids`` that exist, each with its event."""
        found = [_delivery(r) for r in await self.conn.execute(_DELIVERIES, {"ids": delivery_ids})]
        if not found:
            return {}
        rows = await self.conn.execute(_EVENTS, {"ids": list({d.event_id for d in found})})
        by_id = {r.id: _event(r) for r in rows}
        return {d.id: (d, by_id[d.event_id]) for d in found if d.event_id in by_id}

    async def subscriptions(self, subscription_ids: list[str]) -> dict[str, Subscription]:
        rows = await self.conn.execute(_SUBSCRIPTIONS, {"ids": subscription_ids})
        return {r.id: _subscription(r) for r in rows}

    async def update_delivery(self, delivery_id: str, **values: Any) -> None:
        await self.conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(**values)
        )

    async def add_attempt(self, attempt: Attempt) -> None:
        await self.add_attempts([attempt])

    async def add_attempts(self, attempts: list[Attempt]) -> None:
        """Log attempts, each numbered after its delivery's earlier ones."""
        await self.conn.execute(
            _ADD_ATTEMPT,
            [{f"b_{name}": getattr(a, name) for name in _ATTEMPT_COLUMNS} for a in attempts],
        )

    async def record_outcomes(self, outcomes: list[DeliveryOutcome]) -> None:
        """Set each delivery's state after an attempt, in one statement."""
        await self.conn.execute(
            _OUTCOME,
            [
                {
                    "b_id": o.delivery_id,
                    "status": o.status,
                    "attempts": o.attempts,
                    "last_status_code": o.last_status_code,
                    "last_error": o.last_error,
                    "delivered_at": o.delivered_at,
                    "next_attempt_at": o.next_attempt_at,
                    "updated_at": o.updated_at,
                }
                for o in outcomes
            ],
        )

    async def attempts(self, delivery_ids: list[str]) -> dict[str, list[Attempt]]:
        found: dict[str, list[Attempt]] = {i: [] for i in delivery_ids}
        if not delivery_ids:
            return found
        rows = await self.conn.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
            .order_by(
                webhook_attempts.c.attempted_at, webhook_attempts.c.number, webhook_attempts.c.id
            )
        )
        for r in rows:
            found[r.delivery_id].append(
                Attempt(
                    r.id,
                    r.delivery_id,
                    r.attempted_at,
                    r.status_code,
                    r.latency_ms,
                    r.error,
                    r.response_snippet,
                    r.request_headers,
                    r.request_body,
                    r.number,
                )
            )
        return found

    async def deliveries(
        self,
        account_id: AccountId,
        *,
        subscription_id: str | None,
        status: str | None,
        event_type: str | None,
        before_seq: int | None,
        limit: int,
    ) -> list[Delivery]:
        """Newest first: one subscription's, or (``None``) every subscription's of the account."""
        query = select(webhook_deliveries).where(webhook_deliveries.c.account_id == account_id)
        if subscription_id is not None:
            query = query.where(webhook_deliveries.c.subscription_id == subscription_id)
        if status is not None:
            query = query.where(webhook_deliveries.c.status == status)
        if event_type is not None:
            query = query.where(webhook_deliveries.c.event_type == event_type)
        if before_seq is not None:
            query = query.where(webhook_deliveries.c.seq < before_seq)
        rows = await self.conn.execute(query.order_by(webhook_deliveries.c.seq.desc()).limit(limit))
        return [_delivery(r) for r in rows]

    async def latest_delivery(self, subscription_id: str) -> Delivery | None:
        row = (
            await self.conn.execute(
                select(webhook_deliveries)
                .where(webhook_deliveries.c.subscription_id == subscription_id)
                .order_by(webhook_deliveries.c.seq.desc())
                .limit(1)
            )
        ).first()
        return _delivery(row) if row else None

    async def failed_since(self, subscription_id: str, since: datetime) -> list[Delivery]:
        rows = await self.conn.execute(
            select(webhook_deliveries).where(
                webhook_deliveries.c.subscription_id == subscription_id,
                webhook_deliveries.c.status == "failed",
                webhook_deliveries.c.created_at >= since,
            )
        )
        return [_delivery(r) for r in rows]

    async def counts(self, subscription_id: str) -> dict[str, int]:
        rows = await self.conn.execute(
            select(webhook_deliveries.c.status, func.count())
            .where(webhook_deliveries.c.subscription_id == subscription_id)
            .group_by(webhook_deliveries.c.status)
        )
        return {status: int(count) for status, count in rows}

    # -- delivery affinity ----------------------------------------------------------

    async def routing_token(self, subscription_id: str, chat_id: str) -> str | None:
        row = await self.conn.execute(
            select(webhook_routing_tokens.c.token).where(
                webhook_routing_tokens.c.subscription_id == subscription_id,
                webhook_routing_tokens.c.chat_id == chat_id,
            )
        )
        return row.scalar_one_or_none()

    async def remember_routing_token(
        self, subscription_id: str, chat_id: str, token: str, now: datetime
    ) -> None:
        await self.conn.execute(
            webhook_routing_tokens.delete().where(
                webhook_routing_tokens.c.subscription_id == subscription_id,
                webhook_routing_tokens.c.chat_id == chat_id,
            )
        )
        await self.conn.execute(
            webhook_routing_tokens.insert().values(
                subscription_id=subscription_id, chat_id=chat_id, token=token, updated_at=now
            )
        )

    async def forget_routing_tokens(self, subscription_id: str) -> None:
        await self.conn.execute(
            webhook_routing_tokens.delete().where(
                webhook_routing_tokens.c.subscription_id == subscription_id
            )
        )
