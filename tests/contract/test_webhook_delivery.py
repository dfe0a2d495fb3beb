"""Webhook delivery through the official SDK to a real local receiver: what arrives, signed how.

Each delivery is checked twice: by ``client.webhooks.unwrap`` (Standard Webhooks,
the SDK's own check) and by the legacy recipe (hex HMAC-SHA256 of
``{x-webhook-timestamp}.{body}`` keyed by the secret string as handed out).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import linq
import pytest
from linq.types import WebhookEventType
from standardwebhooks import WebhookVerificationError

from tests.support.receiver import Answer, Hit, Receiver
from tests.support.tenant import Tenant, magic

ECHO_EVENTS: list[WebhookEventType] = [
    "message.sent",
    "message.delivered",
    "message.read",
    "chat.typing_indicator.started",
    "chat.typing_indicator.stopped",
    "message.received",
]
IPHONE = "+14155552001"  # an ordinary iPhone: delivers at once, never reads or replies


# -- helpers shared with the other webhook contract files ------------------------------


@pytest.fixture(autouse=True)
def forget_subscriptions(tenant: Tenant) -> Iterator[None]:
    """Delete the test's subscriptions, so no retry of theirs reaches a later test's port."""
    yield
    for subscription in tenant.client.webhook_subscriptions.list().subscriptions:
        tenant.client.webhook_subscriptions.delete(subscription.id)


def verify(tenant: Tenant, hit: Hit, secret: str) -> dict[str, Any]:
    """Both signatures of one delivery are right; returns the parsed envelope."""
    body = hit.body.decode()
    event = tenant.client.webhooks.unwrap(body, headers=hit.headers, key=secret)
    envelope = hit.event
    assert event.event_type == envelope["event_type"]
    assert event.event_id == envelope["event_id"]
    legacy = hmac.new(
        secret.encode(), f"{hit.headers['x-webhook-timestamp']}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    assert hit.headers["x-webhook-signature"] == legacy
    assert hit.headers["x-webhook-timestamp"] == hit.headers["webhook-timestamp"]
    return envelope


def send_text(
    tenant: Tenant, to: str = IPHONE, text: str = "hello", *, line: str | None = None
) -> tuple[str, str]:
    """Open a chat with one text; returns (chat id, message id)."""
    created = tenant.client.chats.create(
        from_=line or tenant.line, to=[to], message={"parts": [{"type": "text", "value": text}]}
    )
    return created.chat.id, created.chat.message.id


def clock_now(tenant: Tenant) -> datetime:
    return datetime.fromisoformat(tenant.http.get("/sim/v1/clock").json()["now"])


def new_traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


# -- the echo conversation ---------------------------------------------------------------


def _echo_conversation(tenant: Tenant, receiver: Receiver, path: str = "/hook") -> tuple[Any, str]:
    """Subscribe to the echo conversation's events and play it; returns (subscription, trace)."""
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(path), subscribed_events=ECHO_EVENTS
    )
    trace_id, traceparent = new_traceparent()
    raw = tenant.client.chats.with_raw_response.create(
        from_=tenant.line,
        to=[magic("05")],
        message={"parts": [{"type": "text", "value": "ping"}]},
        extra_headers={"traceparent": traceparent},
    )
    assert raw.headers["x-trace-id"] == trace_id
    tenant.sim.settle(5)
    return subscription, trace_id


def test_the_echo_conversation_arrives_as_six_verified_deliveries(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription, _ = _echo_conversation(tenant, receiver)
    types = [
        verify(tenant, hit, subscription.signing_secret)["event_type"] for hit in receiver.hits
    ]
    assert sorted(types) == sorted(ECHO_EVENTS)


def test_delivery_headers_name_the_event_and_the_subscription(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription, _ = _echo_conversation(tenant, receiver)
    assert len(receiver.hits) == len(ECHO_EVENTS)
    for hit in receiver.hits:
        envelope = verify(tenant, hit, subscription.signing_secret)
        assert hit.headers["webhook-id"] == envelope["event_id"]
        assert hit.headers["x-webhook-event"] == envelope["event_type"]
        assert hit.headers["x-webhook-subscription-id"] == subscription.id
        assert hit.headers["content-type"] == "application/json"
        assert hit.headers["webhook-signature"].startswith("v1,")
    assert len({hit.headers["webhook-id"] for hit in receiver.hits}) == len(ECHO_EVENTS)


def test_the_envelope_matches_the_recorded_event(tenant: Tenant, receiver: Receiver) -> None:
    subscription, trace_id = _echo_conversation(tenant, receiver)
    recorded = {e["event_id"]: e for e in tenant.sim.events()}
    for hit in receiver.hits:
        envelope = verify(tenant, hit, subscription.signing_secret)
        event = recorded[envelope["event_id"]]
        assert set(envelope) == {
            "api_version",
            "webhook_version",
            "event_type",
            "event_id",
            "created_at",
            "trace_id",
            "partner_id",
            "data",
        }
        assert envelope["api_version"] == "v3"
        assert envelope["webhook_version"] == "2026-02-03"
        assert envelope["partner_id"] == tenant.account_id
        assert envelope["event_type"] == event["event_type"]
        assert datetime.fromisoformat(envelope["created_at"]) == datetime.fromisoformat(
            event["created_at"]
        )
        assert envelope["data"] == event["data"]
        assert envelope["trace_id"] == trace_id, envelope["event_type"]


def test_message_events_carry_direction_in_the_current_version(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription, _ = _echo_conversation(tenant, receiver)
    directions = {
        envelope["event_type"]: envelope["data"]["direction"]
        for envelope in (verify(tenant, h, subscription.signing_secret) for h in receiver.hits)
        if envelope["event_type"].startswith("message.")
    }
    assert directions == {
        "message.sent": "outbound",
        "message.delivered": "outbound",
        "message.read": "outbound",
        "message.received": "inbound",
    }


def test_version_2025_01_01_nests_the_message_and_says_is_from_me(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription, _ = _echo_conversation(tenant, receiver, "/hook?version=2025-01-01")
    messages = {}
    for hit in receiver.hits:
        envelope = verify(tenant, hit, subscription.signing_secret)
        assert envelope["webhook_version"] == "2025-01-01"
        assert envelope["api_version"] == "v3"
        if envelope["event_type"].startswith("message."):
            data = envelope["data"]
            assert "direction" not in data
            messages[envelope["event_type"]] = (data["is_from_me"], data["message"]["id"])
    sent_id = messages["message.sent"][1]
    assert messages == {
        "message.sent": (True, sent_id),
        "message.delivered": (True, sent_id),
        "message.read": (True, sent_id),
        "message.received": (False, messages["message.received"][1]),
    }
    assert messages["message.received"][1] != sent_id


def test_a_tampered_body_fails_the_sdk_check(tenant: Tenant, receiver: Receiver) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent"]
    )
    send_text(tenant, text="the real text")
    tenant.sim.advance(0)
    (hit,) = receiver.hits
    verify(tenant, hit, subscription.signing_secret)  # the untouched body passes
    tampered = hit.body.decode().replace("the real text", "the fake text")
    assert tampered != hit.body.decode()
    with pytest.raises(WebhookVerificationError):
        tenant.client.webhooks.unwrap(
            tampered, headers=hit.headers, key=subscription.signing_secret
        )
    other_secret = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/other"), subscribed_events=["message.sent"]
    ).signing_secret
    with pytest.raises(WebhookVerificationError):
        tenant.client.webhooks.unwrap(hit.body.decode(), headers=hit.headers, key=other_secret)


# -- fan-out and filters -----------------------------------------------------------------


def test_one_event_to_two_subscriptions_has_one_event_id(
    tenant: Tenant, receiver: Receiver
) -> None:
    first = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/a"), subscribed_events=["message.sent"]
    )
    second = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/b"), subscribed_events=["message.sent"]
    )
    send_text(tenant)
    tenant.sim.advance(0)
    by_path = {hit.path: hit for hit in receiver.hits}
    assert sorted(by_path) == ["/a", "/b"]
    a = verify(tenant, by_path["/a"], first.signing_secret)
    b = verify(tenant, by_path["/b"], second.signing_secret)
    assert a["event_id"] == b["event_id"]
    assert by_path["/a"].headers["webhook-id"] == by_path["/b"].headers["webhook-id"]
    assert by_path["/a"].headers["x-webhook-subscription-id"] == first.id
    assert by_path["/b"].headers["x-webhook-subscription-id"] == second.id


def test_only_subscribed_event_types_arrive(tenant: Tenant, receiver: Receiver) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.read", "message.received"]
    )
    send_text(tenant, magic("05"))
    tenant.sim.settle(5)
    types = sorted(
        verify(tenant, h, subscription.signing_secret)["event_type"] for h in receiver.hits
    )
    assert types == ["message.read", "message.received"]
    # The conversation did produce the others: the filter dropped them.
    assert tenant.sim.events("message.sent")
    assert tenant.sim.events("message.delivered")


def test_phone_number_filter_keeps_other_lines_out_but_not_account_events(
    tenant: Tenant, receiver: Receiver
) -> None:
    watched = tenant.lines[1].phone_number
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(),
        subscribed_events=["message.sent", "webhook_subscription.created"],
        phone_numbers=[watched],
    )
    send_text(tenant, "+14155552002", "from the first line", line=tenant.lines[0].phone_number)
    _, from_watched = send_text(tenant, "+14155552003", "from the second line", line=watched)
    other = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/other"), subscribed_events=["message.failed"]
    )
    tenant.sim.advance(0)
    arrived = [verify(tenant, h, subscription.signing_secret) for h in receiver.hits]
    assert sorted((e["event_type"], _subject(e)) for e in arrived) == sorted(
        [
            ("message.sent", from_watched),
            ("webhook_subscription.created", other.id),
            ("webhook_subscription.created", subscription.id),
        ]
    )
    assert all(hit.path == "/hook" for hit in receiver.hits)


def _subject(envelope: dict[str, Any]) -> str:
    data = envelope["data"]
    return str(data["webhook_subscription"]["id"] if "webhook_subscription" in data else data["id"])


def test_an_inactive_subscription_receives_nothing(tenant: Tenant, receiver: Receiver) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=ECHO_EVENTS
    )
    tenant.client.webhook_subscriptions.update(subscription.id, is_active=False)
    send_text(tenant, magic("05"))
    tenant.sim.settle(5)
    assert receiver.hits == []
    assert tenant.sim.events("message.received")  # the events happened


# -- delivery affinity -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routing_id_header", "chat_header"),
    [(None, "linq-chat-id"), ("X-Conversation", "x-conversation")],
)
def test_affinity_sends_the_chat_id_and_echoes_the_learned_token(
    tenant: Tenant, receiver: Receiver, routing_id_header: str | None, chat_header: str
) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(),
        subscribed_events=["message.sent"],
        routing_key_header="X-Route",
        routing_id_header=routing_id_header or linq.omit,
    )
    receiver.script(Answer(headers={"X-Route": "abc"}))
    chat_id, _ = send_text(tenant, text="first")
    tenant.sim.advance(0)
    tenant.client.chats.messages.send(chat_id, message={"parts": [{"type": "text", "value": "2"}]})
    tenant.sim.advance(0)
    other_chat, _ = send_text(tenant, "+14155552004", "another chat")
    tenant.sim.advance(0)
    first, second, third = receiver.hits
    for hit in receiver.hits:
        verify(tenant, hit, subscription.signing_secret)
    assert first.headers[chat_header] == chat_id
    assert "x-route" not in first.headers  # nothing learned yet
    assert second.headers[chat_header] == chat_id
    assert second.headers["x-route"] == "abc"
    assert third.headers[chat_header] == other_chat
    assert "x-route" not in third.headers  # tokens are per chat
    if routing_id_header:
        assert "linq-chat-id" not in first.headers


def test_clearing_the_routing_key_header_stops_affinity_and_drops_tokens(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent"], routing_key_header="X-Route"
    )
    receiver.script(Answer(headers={"X-Route": "abc"}))
    chat_id, _ = send_text(tenant)
    tenant.sim.advance(0)

    def send_again() -> Hit:
        tenant.client.chats.messages.send(
            chat_id, message={"parts": [{"type": "text", "value": "again"}]}
        )
        tenant.sim.advance(0)
        return receiver.hits[-1]

    cleared = tenant.client.webhook_subscriptions.update(subscription.id, routing_key_header=None)
    assert cleared.routing_key_header is None
    hit = send_again()
    assert "linq-chat-id" not in hit.headers
    assert "x-route" not in hit.headers
    tenant.client.webhook_subscriptions.update(subscription.id, routing_key_header="X-Route")
    hit = send_again()
    assert hit.headers["linq-chat-id"] == chat_id
    assert "x-route" not in hit.headers  # the token learned before was dropped


def test_a_token_from_a_failed_answer_is_not_learned(tenant: Tenant, receiver: Receiver) -> None:
    tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent"], routing_key_header="X-Route"
    )
    receiver.script(Answer(status=400, headers={"X-Route": "bad"}))
    chat_id, _ = send_text(tenant)
    tenant.sim.advance(0)
    tenant.client.chats.messages.send(chat_id, message={"parts": [{"type": "text", "value": "2"}]})
    tenant.sim.advance(0)
    assert len(receiver.hits) == 2
    assert "x-route" not in receiver.hits[1].headers
