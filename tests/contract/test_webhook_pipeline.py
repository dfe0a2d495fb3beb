"""How the delivery pipeline moves work: per-endpoint queueing, and cached subscriptions.

On the manual clock nothing moves unless the clock does, so "delivered without the
clock moving" shows that no delivery waited on a poll interval or a retry delay.
"""

from __future__ import annotations

from pathlib import Path

from tests.contract.test_webhook_delivery import (
    forget_subscriptions,  # noqa: F401  (autouse fixture)
    send_text,
)
from tests.support.receiver import Receiver
from tests.support.server import server_with
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
