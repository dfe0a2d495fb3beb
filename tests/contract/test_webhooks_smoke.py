from __future__ import annotations

from tests.support.receiver import Receiver
from tests.support.tenant import Tenant, magic


def test_echo_conversation_is_delivered_signed(tenant: Tenant, receiver: Receiver) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent", "message.received"]
    )
    tenant.client.chats.create(
        from_=tenant.line, to=[magic("05")], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    tenant.sim.settle(5)
    types = []
    for hit in receiver.hits:
        event = tenant.client.webhooks.unwrap(
            hit.body.decode(), headers=hit.headers, key=subscription.signing_secret
        )
        types.append(event.event_type)
    assert sorted(types) == ["message.received", "message.sent"]
