"""Webhook subscriptions: create, read, change, delete, and the delivery log around them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from openlinq.domain import cursors
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.handles import parse_phone
from openlinq.domain.ids import new_id
from openlinq.domain.models import Account
from openlinq.jobs.runner import JobQueue
from openlinq.outbound import OutboundPolicy
from openlinq.store.repos import Repos
from openlinq.store.repos.webhooks import Attempt, Delivery, Subscription
from openlinq.store.unit import Storage
from openlinq.webhooks.account_events import safe_url, subscription_event_data
from openlinq.webhooks.cache import SubscriptionCache
from openlinq.webhooks.catalogue import EVENT_TYPE_SET, payload_version
from openlinq.webhooks.dispatch import DELIVER_JOB
from openlinq.webhooks.signing import new_secret

_UNSET: Any = object()
MAX_HEADER_NAME = 128


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[tuple[Delivery, list[Attempt]]]
    next_cursor: str | None


def _events(raw: list[str]) -> list[str]:
    if not raw:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "subscribed_events needs at least one event")
    unknown = sorted(set(raw) - EVENT_TYPE_SET)
    if unknown:
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"unknown event types: {', '.join(unknown)}")
    return list(dict.fromkeys(raw))


def _lines(raw: list[str] | None) -> list[str] | None:
    if not raw:
        return None
    return list(dict.fromkeys(parse_phone(n, "phone_numbers") for n in raw))


def _header(raw: str | None, field: str) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_HEADER_NAME or not raw.replace("-", "").isalnum():
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"{field} must be an HTTP header name")
    return raw


class SubscriptionService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        queue: JobQueue,
        events: EventLog,
        policy: OutboundPolicy,
        cache: SubscriptionCache,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.queue = queue
        self.events = events
        self.policy = policy
        self.cache = cache

    async def _check_target(self, target_url: str) -> str:
        """Before any transaction: in hosted mode this resolves the host."""
        await self.policy.check_target(target_url, "target_url")
        payload_version(target_url)
        return target_url

    async def _owned(self, repos: Repos, account: Account, subscription_id: str) -> Subscription:
        subscription = await repos.webhooks.get(account.id, subscription_id)
        if subscription is None:
            raise LinqError(ErrorCode.SUBSCRIPTION_NOT_FOUND)
        return subscription

    async def _emit(
        self,
        repos: Repos,
        subscription: Subscription,
        event_type: str,
        summary: str,
        change: dict[str, Any] | None = None,
    ) -> None:
        now = self.clock.now()
        data = subscription_event_data(subscription, summary, now, change)
        if event_type == "webhook_subscription.created":
            data["webhook_subscription"]["events"] = subscription.subscribed_events
        await self.events.record(
            repos, subscription.account_id, event_type, data, phone_number=None, now=now
        )

    async def create(
        self,
        account: Account,
        *,
        target_url: str,
        subscribed_events: list[str],
        phone_numbers: list[str] | None,
        routing_key_header: str | None,
        routing_id_header: str | None,
    ) -> Subscription:
        now = self.clock.now()
        key_header = _header(routing_key_header, "routing_key_header")
        subscription = Subscription(
            id=new_id(),
            account_id=account.id,
            target_url=await self._check_target(target_url),
            secret=new_secret(),
            subscribed_events=_events(subscribed_events),
            phone_numbers=_lines(phone_numbers),
            is_active=True,
            routing_id_header=_header(routing_id_header, "routing_id_header")
            if key_header
            else None,
            routing_key_header=key_header,
            failing_since=None,
            disabled_reason=None,
            created_at=now,
            updated_at=now,
        )
        async with self.storage.write() as repos:
            await repos.locks.hold(f"webhook-target:{account.id}:{target_url}")
            if await repos.webhooks.by_target(account.id, subscription.target_url):
                raise LinqError(
                    ErrorCode.STATE_CONFLICT,
                    "a subscription with this target_url exists; add a query parameter to "
                    "subscribe the same endpoint twice",
                )
            self.cache.changing(repos, account.id)
            await repos.webhooks.add(subscription)
            await self._emit(
                repos, subscription, "webhook_subscription.created", "Webhook subscription created"
            )
        return subscription

    async def of_account(self, account: Account) -> list[Subscription]:
        async with self.storage.read() as repos:
            return await repos.webhooks.of_account(account.id)

    async def with_latest(self, account: Account) -> list[tuple[Subscription, Delivery | None]]:
        """Each subscription with its newest delivery (for an overview)."""
        async with self.storage.read() as repos:
            found = await repos.webhooks.of_account(account.id)
            return [(s, await repos.webhooks.latest_delivery(s.id)) for s in found]

    async def get(self, account: Account, subscription_id: str) -> Subscription:
        async with self.storage.read() as repos:
            return await self._owned(repos, account, subscription_id)

    async def update(
        self,
        account: Account,
        subscription_id: str,
        *,
        target_url: str | None = None,
        subscribed_events: list[str] | None = None,
        is_active: bool | None = None,
        phone_numbers: list[str] | None = _UNSET,
        routing_key_header: str | None = _UNSET,
        routing_id_header: str | None = _UNSET,
    ) -> Subscription:
        now = self.clock.now()
        checked = None if target_url is None else await self._check_target(target_url)
        async with self.storage.write() as repos:
            old = await self._owned(repos, account, subscription_id)
            new = old
            if checked is not None and checked != old.target_url:
                if await repos.webhooks.by_target(account.id, checked):
                    raise LinqError(
                        ErrorCode.STATE_CONFLICT, "another subscription has this target_url"
                    )
                new = replace(new, target_url=checked)
            if subscribed_events is not None:
                new = replace(new, subscribed_events=_events(subscribed_events))
            if phone_numbers is not _UNSET:
                new = replace(new, phone_numbers=_lines(phone_numbers))
            if routing_key_header is not _UNSET:
                new = replace(
                    new, routing_key_header=_header(routing_key_header, "routing_key_header")
                )
            if routing_id_header is not _UNSET:
                new = replace(
                    new, routing_id_header=_header(routing_id_header, "routing_id_header")
                )
            if is_active is not None:
                new = replace(new, is_active=is_active)
                if is_active:
                    new = replace(new, failing_since=None, disabled_reason=None)
            new = replace(new, updated_at=now)
            self.cache.changing(repos, account.id)
            await repos.webhooks.update(
                old.id,
                target_url=new.target_url,
                subscribed_events=new.subscribed_events,
                phone_numbers=new.phone_numbers,
                routing_key_header=new.routing_key_header,
                routing_id_header=new.routing_id_header,
                is_active=new.is_active,
                failing_since=new.failing_since,
                disabled_reason=new.disabled_reason,
                updated_at=now,
            )
            if old.routing_key_header and not new.routing_key_header:
                await repos.webhooks.forget_routing_tokens(old.id)
            for event_type, summary, change in _changes(old, new):
                await self._emit(repos, new, event_type, summary, change)
        return new

    async def delete(self, account: Account, subscription_id: str) -> None:
        async with self.storage.write() as repos:
            subscription = await self._owned(repos, account, subscription_id)
            self.cache.changing(repos, account.id)
            await self._emit(
                repos, subscription, "webhook_subscription.deleted", "Webhook subscription deleted"
            )
            await repos.webhooks.delete(subscription.id)

    # -- the delivery log ---------------------------------------------------------------

    async def deliveries(
        self,
        account: Account,
        subscription_id: str | None,
        *,
        status: str | None,
        event_type: str | None,
        cursor: str | None,
        limit: int,
    ) -> DeliveryPage:
        """One subscription's log, or (``None``) every subscription's of the account."""
        before = cursors.decode_seq(cursors.DELIVERIES, cursor)
        async with self.storage.read() as repos:
            if subscription_id is not None:
                await self._owned(repos, account, subscription_id)
            rows = await repos.webhooks.deliveries(
                account.id,
                subscription_id=subscription_id,
                status=status,
                event_type=event_type,
                before_seq=before,
                limit=limit + 1,
            )
            more = len(rows) > limit
            rows = rows[:limit]
            attempts = await repos.webhooks.attempts([d.id for d in rows])
        next_cursor = cursors.encode_seq(cursors.DELIVERIES, rows[-1].seq) if more else None
        return DeliveryPage([(d, attempts[d.id]) for d in rows], next_cursor)

    async def redeliver(self, account: Account, subscription_id: str, delivery_id: str) -> Delivery:
        """Send one event again now (whatever happened to it before)."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            subscription = await self._owned(repos, account, subscription_id)
            delivery = await repos.webhooks.delivery(delivery_id)
            if delivery is None or delivery.subscription_id != subscription.id:
                raise LinqError(ErrorCode.INVALID_PARAMETER, "no such delivery", http_status=404)
            await self._requeue(repos, delivery, now)
            refreshed = await repos.webhooks.delivery(delivery.id)
        assert refreshed is not None
        return refreshed

    async def recover(self, account: Account, subscription_id: str, since: datetime) -> int:
        """Send again every event that failed for good since ``since``."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            subscription = await self._owned(repos, account, subscription_id)
            failed = await repos.webhooks.failed_since(subscription.id, since)
            for delivery in failed:
                await self._requeue(repos, delivery, now)
        return len(failed)

    async def _requeue(self, repos: Repos, delivery: Delivery, now: datetime) -> None:
        await repos.webhooks.update_delivery(
            delivery.id, status="pending", attempts=0, next_attempt_at=now, updated_at=now
        )
        await self.queue.schedule(repos, DELIVER_JOB, {"delivery_id": delivery.id})


def _changes(old: Subscription, new: Subscription) -> list[tuple[str, str, dict[str, Any] | None]]:
    """The account events an update produces, with their ``change`` objects."""
    changes: list[tuple[str, str, dict[str, Any] | None]] = []
    if old.target_url != new.target_url:
        changes.append(
            (
                "webhook_subscription.target_url_changed",
                "Target URL changed",
                {"from": safe_url(old), "to": safe_url(new)},
            )
        )
    if old.is_active != new.is_active:
        kind = "enabled" if new.is_active else "disabled"
        changes.append((f"webhook_subscription.{kind}", f"Webhook subscription {kind}", None))
    if old.subscribed_events != new.subscribed_events:
        changes.append(
            (
                "webhook_subscription.events.updated",
                "Subscribed events updated",
                {"from": old.subscribed_events, "to": new.subscribed_events},
            )
        )
    if old.phone_numbers != new.phone_numbers:
        changes.append(
            (
                "webhook_subscription.phone_numbers.updated",
                "Phone number filter updated",
                {"from": old.phone_numbers, "to": new.phone_numbers},
            )
        )
    if old.routing_key_header != new.routing_key_header or (
        old.routing_id_header != new.routing_id_header
    ):
        kind = "set" if new.routing_key_header else "cleared"
        changes.append(
            (
                f"webhook_subscription.routing_headers_{kind}",
                f"Routing headers {kind}",
                {"from": old.routing_key_header, "to": new.routing_key_header},
            )
        )
    return changes
