"""The outbound message lifecycle (contract §6, §3.1, §7.3) played out by the simulator.

Every timeline is driven by the manual clock: each assertion names the exact
simulated second at which a device's receipt, reply or reaction must (or must
not yet) have happened.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import linq
import pytest
from linq.types import Message

from tests.support.tenant import Tenant, magic

IPHONE = "+14155559876"  # outside 555-01XX: a plain iPhone
EMAIL = "someone@example.com"
TEXT: Any = {"parts": [{"type": "text", "value": "ping"}]}
FOREVER = 600.0  # long after any simulated delay
LIFECYCLE = ["message.sent", "message.delivered", "message.read"]


def _send(tenant: Tenant, to: list[str], **message: Any) -> Any:
    content: Any = {**TEXT, **message}
    return tenant.client.chats.create(from_=tenant.line, to=to, message=content)


def _retrieve(tenant: Tenant, message_id: str) -> Message:
    return tenant.client.messages.retrieve(message_id)


def _at(t0: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else t0 + timedelta(seconds=seconds)


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _events_of(tenant: Tenant, message_id: str) -> list[dict[str, Any]]:
    """The account's events about one message, oldest first."""
    return [
        e
        for e in tenant.sim.events()
        if message_id in (e["data"].get("id"), e["data"].get("message_id"))
    ]


# Checkpoints: (seconds after the send, status there).
STAYS_DELIVERED = [(0.0, "delivered"), (FOREVER, "delivered")]
READS_AFTER_1S = [(0.0, "delivered"), (0.9, "delivered"), (1.0, "read")]

# (handle, service, checkpoints, delivered_at and read_at in seconds after the send or None).
TIMELINES = [
    pytest.param(IPHONE, "iMessage", STAYS_DELIVERED, 0.0, None, id="iphone"),
    pytest.param(EMAIL, "iMessage", STAYS_DELIVERED, 0.0, None, id="email"),
    pytest.param(magic("01"), "SMS", [(0.0, "sent"), (FOREVER, "sent")], None, None, id="01"),
    pytest.param(magic("02"), "RCS", STAYS_DELIVERED, 0.0, None, id="02"),
    pytest.param(
        magic("03"), "iMessage", [(0.0, "failed"), (FOREVER, "failed")], None, None, id="03"
    ),
    pytest.param(magic("04"), "iMessage", READS_AFTER_1S, 0.0, 1.0, id="04"),
    pytest.param(magic("05"), "iMessage", READS_AFTER_1S, 0.0, 1.0, id="05"),
    pytest.param(magic("06"), "iMessage", STAYS_DELIVERED, 0.0, None, id="06"),
    pytest.param(
        magic("07"),
        "iMessage",
        [(0.0, "sent"), (4.9, "sent"), (5.0, "delivered")],
        5.0,
        None,
        id="07",
    ),
    pytest.param(magic("08"), "iMessage", STAYS_DELIVERED, 0.0, None, id="08"),
]


@pytest.mark.parametrize(("handle", "service", "checkpoints", "delivered", "read"), TIMELINES)
def test_each_device_moves_through_its_statuses_at_the_simulated_second(
    tenant: Tenant,
    handle: str,
    service: str,
    checkpoints: list[tuple[float, str]],
    delivered: float | None,
    read: float | None,
) -> None:
    sent = _send(tenant, [handle]).chat.message
    assert (sent.service, sent.delivery_status, sent.sent_at) == (service, "queued", None)
    t0 = sent.created_at
    now = 0.0
    for at, status in checkpoints:
        tenant.sim.advance(at - now)
        now = at
        message = _retrieve(tenant, sent.id)
        assert (message.delivery_status, message.service) == (status, service), f"at {at} s"
        assert message.is_delivered == (status in ("delivered", "read"))
        assert message.is_read == (status == "read")
    final = _retrieve(tenant, sent.id)
    assert final.sent_at == (None if final.delivery_status == "failed" else t0)
    assert final.delivered_at == _at(t0, delivered)
    assert final.read_at == _at(t0, read)


def test_nothing_happens_until_the_clock_is_advanced(tenant: Tenant) -> None:
    sent = _send(tenant, [IPHONE]).chat.message
    for _ in range(3):  # reads don't move anything either
        message = _retrieve(tenant, sent.id)
        assert (message.delivery_status, message.sent_at, message.delivered_at) == (
            "queued",
            None,
            None,
        )
    assert _events_of(tenant, sent.id) == []


def test_advancing_by_zero_sends_what_is_queued(tenant: Tenant) -> None:
    slow = _send(tenant, [magic("07")]).chat.message
    iphone = _send(tenant, [IPHONE]).chat.message
    tenant.sim.advance(0)
    assert _retrieve(tenant, slow.id).delivery_status == "sent"
    assert [e["event_type"] for e in _events_of(tenant, slow.id)] == ["message.sent"]
    assert [e["event_type"] for e in _events_of(tenant, iphone.id)] == [
        "message.sent",
        "message.delivered",
    ]


def test_sms_has_no_delivery_receipts(tenant: Tenant) -> None:
    sent = _send(tenant, [magic("01")]).chat.message
    tenant.sim.advance(0)
    tenant.sim.advance(FOREVER)
    assert [e["event_type"] for e in _events_of(tenant, sent.id)] == ["message.sent"]


def test_an_unreachable_phone_fails_with_4002(tenant: Tenant) -> None:
    created = _send(tenant, [magic("03")])
    tenant.sim.advance(0)
    events = _events_of(tenant, created.chat.message.id)
    assert [e["event_type"] for e in events] == ["message.failed"]
    data = events[0]["data"]
    assert (data["code"], data["message_id"], data["chat_id"], data["service"]) == (
        4002,
        created.chat.message.id,
        created.chat.id,
        "iMessage",
    )
    assert _stamp(data["failed_at"]) == created.chat.message.created_at
    assert data["reason"]


# -- preferred_service ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "preferred", "service", "final"),
    [
        pytest.param(magic("02"), "RCS", "RCS", "delivered", id="RCS-to-android"),
        pytest.param(IPHONE, "RCS", "SMS", "sent", id="RCS-to-iphone-is-SMS"),
        pytest.param(magic("02"), "SMS", "RCS", "delivered", id="SMS-to-android-is-RCS"),
        pytest.param(IPHONE, "SMS", "SMS", "sent", id="SMS-to-iphone-never-iMessage"),
        pytest.param(magic("01"), "RCS", "SMS", "sent", id="RCS-to-sms-only-is-SMS"),
        pytest.param(IPHONE, "iMessage", "iMessage", "delivered", id="iMessage-to-iphone"),
    ],
)
def test_preferred_service_picks_the_transport(
    tenant: Tenant, to: str, preferred: str, service: str, final: str
) -> None:
    sent = _send(tenant, [to], preferred_service=preferred).chat.message
    assert (sent.service, sent.preferred_service) == (service, preferred)
    tenant.sim.advance(0)
    message = _retrieve(tenant, sent.id)
    assert (message.delivery_status, message.service) == (final, service)


@pytest.mark.parametrize(
    ("to", "preferred", "service"),
    [
        pytest.param(magic("01"), "iMessage", "iMessage", id="iMessage-only-to-sms-only"),
        pytest.param(magic("02"), "iMessage", "iMessage", id="iMessage-only-to-android"),
        pytest.param(EMAIL, "SMS", "RCS", id="SMS-to-an-email"),  # the chain's head: RCS
    ],
)
def test_a_preference_the_recipient_lacks_is_accepted_then_fails_with_4005(
    tenant: Tenant, to: str, preferred: str, service: str
) -> None:
    sent = _send(tenant, [to], preferred_service=preferred).chat.message
    assert (sent.delivery_status, sent.service) == ("queued", service)
    tenant.sim.advance(0)
    assert _retrieve(tenant, sent.id).delivery_status == "failed"
    events = _events_of(tenant, sent.id)
    assert [e["event_type"] for e in events] == ["message.failed"]
    assert (events[0]["data"]["code"], events[0]["data"]["preferred_service"]) == (4005, preferred)


def test_a_group_uses_the_best_service_every_member_has(tenant: Tenant) -> None:
    # iPhone: iMessage + SMS; Android: RCS + SMS -> only SMS is common.
    chat = _send(tenant, [IPHONE, magic("02")]).chat
    assert (chat.is_group, chat.service, chat.message.service) == (True, "SMS", "SMS")
    assert {h.handle: h.service for h in chat.handles if not h.is_me} == {
        IPHONE: "SMS",
        magic("02"): "SMS",
    }
    tenant.sim.advance(0)
    assert _retrieve(tenant, chat.message.id).delivery_status == "sent"


def test_a_group_of_iphones_stays_on_imessage(tenant: Tenant) -> None:
    chat = _send(tenant, [IPHONE, magic("04")]).chat
    assert (chat.service, chat.message.service) == ("iMessage", "iMessage")


# -- events (§7.3) -------------------------------------------------------------------


def test_a_reader_produces_sent_delivered_read_events_in_order(tenant: Tenant) -> None:
    created = _send(tenant, [magic("04")])
    sent = created.chat.message
    t0 = sent.created_at
    tenant.sim.advance(0)
    tenant.sim.advance(1)
    events = _events_of(tenant, sent.id)
    assert [e["event_type"] for e in events] == LIFECYCLE
    expected_stamps = [(t0, None, None), (t0, t0, None), (t0, t0, _at(t0, 1))]
    for event, stamps in zip(events, expected_stamps, strict=True):
        data = event["data"]
        assert (data["id"], data["direction"], data["chat"]["id"]) == (
            sent.id,
            "outbound",
            created.chat.id,
        )
        assert (data["sender_handle"]["handle"], data["sender_handle"]["is_me"]) == (
            tenant.line,
            True,
        )
        assert data["chat"]["owner_handle"]["handle"] == tenant.line
        assert (data["service"], data["parts"][0]["value"]) == ("iMessage", "ping")
        assert tuple(_stamp(data[k]) for k in ("sent_at", "delivered_at", "read_at")) == stamps
        assert event["phone_number"] == tenant.line


def test_the_echo_bot_types_then_replies_echo(tenant: Tenant) -> None:
    bot = magic("05")
    created = _send(tenant, [bot], parts=[{"type": "text", "value": "hello there"}])
    tenant.sim.advance(0)
    tenant.sim.advance(1)  # read at 1 s
    tenant.sim.advance(0.4)
    assert tenant.sim.events("chat.typing_indicator.started") == []
    tenant.sim.advance(0.1)  # typing starts at 1.5 s
    started = tenant.sim.events("chat.typing_indicator.started")
    assert [(e["data"]["chat_id"], e["data"]["actor_handle"]["handle"]) for e in started] == [
        (created.chat.id, bot)
    ]
    tenant.sim.advance(1.4)
    assert tenant.sim.events("message.received") == []
    tenant.sim.advance(0.1)  # typing stops and the reply lands at 3 s
    stopped = tenant.sim.events("chat.typing_indicator.stopped")
    assert [e["data"]["actor_handle"]["handle"] for e in stopped] == [bot]
    [received] = tenant.sim.events("message.received")
    data = received["data"]
    assert data["parts"] == [{"type": "text", "value": "echo: hello there"}]
    assert (data["direction"], data["chat"]["id"], data["sender_handle"]["handle"]) == (
        "inbound",
        created.chat.id,
        bot,
    )
    assert data["sender_handle"]["is_me"] is False
    types = [e["event_type"] for e in tenant.sim.events()]
    assert types.index("chat.typing_indicator.stopped") < types.index("message.received")
    newest: Any = tenant.client.chats.messages.list(created.chat.id).messages[0]
    assert (newest.id, newest.is_from_me, newest.parts[0].value) == (
        data["id"],
        False,
        "echo: hello there",
    )


def test_the_stopper_replies_stop_only_to_its_first_message(tenant: Tenant) -> None:
    created = _send(tenant, [magic("06")])
    tenant.sim.advance(0)
    tenant.sim.advance(0.9)
    assert tenant.sim.events("message.received") == []
    tenant.sim.advance(0.1)
    [stop] = tenant.sim.events("message.received")
    assert stop["data"]["parts"] == [{"type": "text", "value": "STOP"}]
    tenant.client.chats.messages.send(created.chat.id, message=TEXT, override_optout=True)
    tenant.sim.settle(5)
    assert len(tenant.sim.events("message.received")) == 1
    messages = tenant.client.chats.messages.list(created.chat.id).messages
    assert [m.is_from_me for m in messages].count(False) == 1


def test_the_reactor_loves_a_message_half_a_second_after_delivery(tenant: Tenant) -> None:
    reactor = magic("08")
    sent = _send(tenant, [reactor]).chat.message
    tenant.sim.advance(0)
    tenant.sim.advance(0.4)
    assert tenant.sim.events("reaction.added") == []
    tenant.sim.advance(0.1)
    [added] = tenant.sim.events("reaction.added")
    data = added["data"]
    assert (data["reaction_type"], data["message_id"], data["is_from_me"]) == (
        "love",
        sent.id,
        False,
    )
    assert (data["part_index"], data["from_handle"]["handle"]) == (0, reactor)
    part: Any = _retrieve(tenant, sent.id).parts[0]  # type: ignore[index]
    assert [(r.type, r.is_me, r.handle.handle) for r in part.reactions] == [
        ("love", False, reactor)
    ]


# -- trace ids -----------------------------------------------------------------------


def _traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def _send_traced(tenant: Tenant, how: str, headers: dict[str, str]) -> tuple[str, str]:
    """Send to the reader (04) through one send endpoint: (x-trace-id, message id)."""
    if how == "chats.create":
        raw = tenant.client.chats.with_raw_response.create(
            from_=tenant.line, to=[magic("04")], message=TEXT, extra_headers=headers
        )
        return raw.headers["x-trace-id"], raw.parse().chat.message.id
    if how == "messages.create":
        created = tenant.client.messages.with_raw_response.create(
            to=[magic("04")], message=TEXT, extra_headers=headers
        )
        return created.headers["x-trace-id"], created.parse().message.id
    chat_id = _send(tenant, [magic("04")]).chat.id
    sent = tenant.client.chats.messages.with_raw_response.send(
        chat_id, message=TEXT, extra_headers=headers
    )
    return sent.headers["x-trace-id"], sent.parse().message.id


@pytest.mark.parametrize("how", ["chats.create", "messages.create", "chats.messages.send"])
def test_every_event_of_a_send_carries_the_request_trace_id(tenant: Tenant, how: str) -> None:
    trace_id, traceparent = _traceparent()
    echoed, message_id = _send_traced(tenant, how, {"traceparent": traceparent})
    assert echoed == trace_id
    tenant.sim.advance(0)
    tenant.sim.advance(1)
    events = _events_of(tenant, message_id)
    assert [e["event_type"] for e in events] == LIFECYCLE
    assert {e["trace_id"] for e in events} == {trace_id}


def test_events_of_different_requests_keep_their_own_trace_ids(tenant: Tenant) -> None:
    first_trace, first_header = _traceparent()
    second_trace, second_header = _traceparent()
    first = tenant.client.chats.create(
        from_=tenant.line,
        to=[magic("07")],
        message=TEXT,
        extra_headers={"traceparent": first_header},
    ).chat.message
    second = tenant.client.chats.create(
        from_=tenant.line,
        to=[magic("04")],
        message=TEXT,
        extra_headers={"traceparent": second_header},
    ).chat.message
    tenant.sim.settle(6)
    assert {e["trace_id"] for e in _events_of(tenant, first.id)} == {first_trace}
    assert {e["trace_id"] for e in _events_of(tenant, second.id)} == {second_trace}
    created = tenant.sim.events("chat.created")
    assert [e["trace_id"] for e in created] == [first_trace, second_trace]


def test_a_failure_event_carries_the_request_trace_id(tenant: Tenant) -> None:
    trace_id, traceparent = _traceparent()
    sent = tenant.client.chats.create(
        from_=tenant.line,
        to=[magic("03")],
        message=TEXT,
        extra_headers={"traceparent": traceparent},
    ).chat.message
    tenant.sim.advance(0)
    [failed] = _events_of(tenant, sent.id)
    assert (failed["event_type"], failed["trace_id"]) == ("message.failed", trace_id)


def test_a_request_without_traceparent_gets_a_fresh_trace_id(tenant: Tenant) -> None:
    raw = tenant.client.chats.with_raw_response.create(from_=tenant.line, to=[IPHONE], message=TEXT)
    trace_id = raw.headers["x-trace-id"]
    assert len(trace_id) == 32
    assert int(trace_id, 16) != 0
    tenant.sim.advance(0)
    events = _events_of(tenant, raw.parse().chat.message.id)
    assert {e["trace_id"] for e in events} == {trace_id}


def test_an_invalid_send_is_refused_before_anything_is_queued(tenant: Tenant) -> None:
    with pytest.raises(linq.BadRequestError) as e:
        _send(tenant, [IPHONE], preferred_service="Fax")
    assert e.value.status_code == 400
    tenant.sim.advance(0)
    assert tenant.sim.events() == []


def test_one_clock_advance_plays_every_step_at_its_own_time(tenant: Tenant) -> None:
    """A single advance stops at each job's due time: the delivery, the read a second
    later and the reply at 3 s all happen inside one advance, each stamped with its time."""
    bot = magic("05")
    created = _send(tenant, [bot], parts=[{"type": "text", "value": "one step"}])
    start = tenant.client.messages.retrieve(created.chat.message.id).created_at
    tenant.sim.advance(10)
    sent = tenant.client.messages.retrieve(created.chat.message.id)
    assert sent.delivery_status == "read"
    assert sent.delivered_at == start
    assert sent.read_at == start + timedelta(seconds=1)
    [received] = tenant.sim.events("message.received")
    assert received["data"]["parts"] == [{"type": "text", "value": "echo: one step"}]
    reply = tenant.client.messages.retrieve(received["data"]["id"])
    assert reply.created_at == start + timedelta(seconds=3)
