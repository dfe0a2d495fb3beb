"""How the delivery pipeline moves work: per-endpoint queueing, and cached subscriptions.

On the manual clock nothing moves unless the clock does, so "delivered without the
clock moving" shows that no delivery waited on a poll interval or a retry delay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from openlinq.domain.ids import AccountId
from tests.contract.test_webhook_delivery import (
    forget_subscriptions,  # noqa: F401  (autouse fixture)
    send_text,
)
from tests.support.receiver import Receiver
from tests.support.server import RunningServer, server_with
from tests.support.tenant import Tenant, tenant_on


def test_deliveries_beyond_an_endpoints_concurrency_wait_their_turn_not_the_clock(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    # One request at a time at an endpoint: the other two queue for it in this process
    # instead of being put back on the queue for later, so all three arrive at once.
    with (
        server_with(tmp_path, database_url=database_url, webhook_endpoint_concurrency=1) as server,
        tenant_on(server) as tenant,
    ):
        tenant.client.webhook_subscriptions.create(
            target_url=receiver.url(), subscribed_events=["message.sent"]
        )
        sent = {send_text(tenant, f"+141555521{n:02d}")[1] for n in range(3)}
        tenant.sim.advance(0)
        assert {hit.event["data"]["id"] for hit in receiver.hits} == sent
        assert len(receiver.hits) == 3


def test_every_subscription_change_is_seen_by_the_next_event(
    tenant: Tenant, receiver: Receiver
) -> None:
    def arrivals_after_one_send() -> list[str]:
        before = len(receiver.hits)
        send_text(tenant)
        tenant.sim.advance(0)
        return [hit.path for hit in receiver.hits[before:]]

    assert arrivals_after_one_send() == []  # the account's (empty) subscriptions are known
    created = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/a"), subscribed_events=["message.sent"]
    )
    assert arrivals_after_one_send() == ["/a"]
    tenant.client.webhook_subscriptions.update(created.id, target_url=receiver.url("/b"))
    assert arrivals_after_one_send() == ["/b"]
    tenant.client.webhook_subscriptions.update(created.id, is_active=False)
    assert arrivals_after_one_send() == []
    tenant.client.webhook_subscriptions.update(created.id, is_active=True)
    assert arrivals_after_one_send() == ["/b"]
    tenant.client.webhook_subscriptions.update(created.id, subscribed_events=["message.read"])
    assert arrivals_after_one_send() == []
    tenant.client.webhook_subscriptions.update(created.id, subscribed_events=["message.sent"])
    assert arrivals_after_one_send() == ["/b"]
    tenant.client.webhook_subscriptions.delete(created.id)
    assert arrivals_after_one_send() == []


def test_the_earliest_failure_starts_the_disable_count_whichever_attempt_records_last(
    server: RunningServer, tenant: Tenant, receiver: Receiver
) -> None:
    # Two attempts at one endpoint, loaded before either failed, record their failures in
    # either order: the failing-since time stays the first one's.
    created = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent"]
    )
    first, later = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)

    async def fail_at(moment: datetime) -> None:
        async with server.services.storage.write() as repos:
            await repos.webhooks.mark_failing(created.id, moment)

    async def failing_since() -> datetime | None:
        async with server.services.storage.read() as repos:
            found = await repos.webhooks.get(AccountId(tenant.account_id), created.id)
            assert found is not None
            return found.failing_since

    server.call(fail_at, first)
    server.call(fail_at, later)
    assert server.call(failing_since) == first


def test_a_read_begun_before_a_subscription_change_never_caches_the_old_state(
    server: RunningServer, tenant: Tenant, receiver: Receiver
) -> None:
    created = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent"]
    )
    account = AccountId(tenant.account_id)
    storage, cache = server.services.storage, server.services.dispatcher.subscriptions

    async def race() -> bool:
        generation = cache.generation  # as the dispatcher takes it before it reads
        async with storage.read() as reader:
            await reader.webhooks.of_account(account)  # this read's snapshot starts here
            async with storage.write() as writer:  # a change commits meanwhile
                cache.changing(writer, account)
                await writer.webhooks.update(created.id, is_active=False)
            await cache.of_account(reader, account, generation)  # sees the old state
        async with storage.read() as fresh:
            (subscription,) = await cache.of_account(fresh, account)
            return subscription.is_active

    assert server.call(race) is False
