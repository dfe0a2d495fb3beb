from __future__ import annotations

from tests.support.tenant import Tenant, magic


def test_echo_bot_conversation(tenant: Tenant) -> None:
    created = tenant.client.chats.create(
        from_=tenant.line, to=[magic("05")], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    assert created.chat.message.delivery_status == "queued"
    tenant.sim.settle(10)
    messages = list(tenant.client.chats.messages.list(created.chat.id))
    assert [(m.is_from_me, m.delivery_status) for m in messages] == [
        (False, "received"),
        (True, "read"),
    ]
    assert messages[0].parts is not None
    assert messages[0].parts[0].value == "echo: hi"  # type: ignore[union-attr]
