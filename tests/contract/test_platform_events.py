"""The events the platform emits on its own side: opt-out and opt-in, lines assigned and
released, call forwarding, zero data retention, group update failures, shared and deleted
contact cards, API tokens and the automatic disable of a failing subscription.

Each is triggered the way a user of openlinq triggers it (the SDK, the simulator, the
operator's services), received by a real local receiver, checked with ``unwrap`` and both
signatures, and validated by the SDK's own event class where the SDK has one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, get_args

import linq
import pytest
from linq.types import (
    APITokenCreatedWebhookEvent,
    APITokenDeletedWebhookEvent,
    ChatGroupIconUpdatedWebhookEvent,
    ChatGroupIconUpdateFailedWebhookEvent,
    ChatGroupNameUpdateFailedWebhookEvent,
    ContactCardDeletedWebhookEvent,
    ContactCardReceivedWebhookEvent,
    MessageEditedWebhookEvent,
    MessageSentWebhookEvent,
    PhoneNumberAssignedWebhookEvent,
    PhoneNumberForwardingUpdatedWebhookEvent,
    PhoneNumberReleasedWebhookEvent,
    WebhookEventType,
    WebhookSubscriptionDisabledWebhookEvent,
    WebhookSubscriptionPhoneNumbersUpdatedWebhookEvent,
    WebhookSubscriptionRoutingHeadersClearedWebhookEvent,
    WebhookSubscriptionRoutingHeadersSetWebhookEvent,
    WebhookSubscriptionTargetURLChangedWebhookEvent,
    ZeroDayRetentionUpdatedWebhookEvent,
)

from openlinq.domain.ids import AccountId
from tests.contract.test_webhook_delivery import clock_now, send_text, verify
from tests.support.receiver import Receiver, running_receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, fresh_line_number, tenant_on

A, B = "+14155552071", "+14155552072"
PHONE = "+14155552073"
OPT_EVENTS = ["message.opt_in", "message.opt_out"]


@pytest.fixture(autouse=True)
def forget_subscriptions(tenant: Tenant) -> Iterator[None]:
    """Delete the test's subscriptions (over plain HTTP: some listen to the opt events),
    so no retry of theirs reaches a later test's port."""
    yield
    for subscription in tenant.http.get("/v3/webhook-subscriptions").json()["subscriptions"]:
        tenant.http.delete(f"/v3/webhook-subscriptions/{subscription['id']}")


def _subscribe(tenant: Tenant, receiver: Receiver, events: list[str]) -> str:
    """Subscribe over plain HTTP (the strict SDK refuses the FAQ's opt events in the
    answer); returns the signing secret."""
    response = tenant.http.post(
        "/v3/webhook-subscriptions",
        json={"target_url": receiver.url(), "subscribed_events": events},
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["signing_secret"]
    return secret


def _received(tenant: Tenant, receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every delivery so far, both signatures checked, as envelopes in the order the
    events were recorded (deliveries run concurrently and may arrive in any order)."""
    tenant.sim.advance(0)
    order = {e["event_id"]: i for i, e in enumerate(tenant.sim.events())}
    envelopes = [verify(tenant, hit, secret) for hit in receiver.hits]
    return sorted(envelopes, key=lambda e: order[e["event_id"]])


def _only(envelopes: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    (found,) = [e for e in envelopes if e["event_type"] == event_type]
    return found


def _account_data(envelope: dict[str, Any], origin: str, actor: str) -> dict[str, Any]:
    data: dict[str, Any] = envelope["data"]
    assert (data["origin"], data["actor"]) == (origin, {"type": actor})
    assert data["summary"]
    return data


def _sim_line(tenant: Tenant, number: str, **change: Any) -> dict[str, Any]:
    response = tenant.http.patch(f"/sim/v1/lines/{number}", json=change)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _error(response: Any, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert (body["error"]["status"], body["error"]["code"]) == (status, code)


# -- the event catalogue ----------------------------------------------------------------


def test_the_catalogue_lists_the_sdk_types_and_subscriptions_take_the_opt_events(
    tenant: Tenant, receiver: Receiver
) -> None:
    listed = tenant.client.webhook_events.list()  # strict validation: only the SDK's types
    assert listed.events == list(get_args(WebhookEventType))
    assert not set(OPT_EVENTS) & set(listed.events)
    _subscribe(tenant, receiver, ["message.received", *OPT_EVENTS])
    (stored,) = tenant.http.get("/v3/webhook-subscriptions").json()["subscriptions"]
    assert stored["subscribed_events"] == ["message.received", *OPT_EVENTS]
    unknown = tenant.http.post(
        "/v3/webhook-subscriptions",
        json={"target_url": receiver.url("/other"), "subscribed_events": ["message.opt_maybe"]},
    )
    _error(unknown, 400, 1005)


# -- message.opt_out / message.opt_in ------------------------------------------------------


def test_an_opt_out_keyword_and_a_later_reply_are_opt_out_then_opt_in(
    tenant: Tenant, receiver: Receiver
) -> None:
    secret = _subscribe(tenant, receiver, OPT_EVENTS)
    stop = tenant.sim.send(PHONE, to=tenant.line, text="STOP")
    assert tenant.sim.send(PHONE, to=tenant.line, text="STOP")  # again: one more opt-out
    back = tenant.sim.send(PHONE, to=tenant.line, text="sorry, keep going")
    tenant.sim.send(PHONE, to=tenant.line, text="thanks")  # nothing to opt back into
    envelopes = _received(tenant, receiver, secret)
    assert [e["event_type"] for e in envelopes] == [
        "message.opt_out",
        "message.opt_out",
        "message.opt_in",
    ]
    out, _, opted_in = (e["data"] for e in envelopes)
    assert out == {
        "chat_id": stop["chat_id"],
        "message_id": stop["message_id"],
        "handle": PHONE,
        "phone_number": tenant.line,
        "service": "iMessage",
        "changed_at": out["changed_at"],
        "keyword": "STOP",
    }
    assert opted_in["message_id"] == back["message_id"]
    assert "keyword" not in opted_in
    assert opted_in["changed_at"] == envelopes[2]["created_at"]


def test_an_opt_out_in_a_group_is_no_event(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver, OPT_EVENTS)
    group = tenant.client.chats.create(
        from_=tenant.line, to=[A, B], message={"parts": [{"type": "text", "value": "hi"}]}
    ).chat.id
    tenant.sim.send(A, chat_id=group, text="STOP")
    assert _received(tenant, receiver, secret) == []


# -- phone_number.assigned / released / forwarding_updated ---------------------------------


def test_assigning_and_releasing_a_line(
    tenant: Tenant, receiver: Receiver, server: RunningServer
) -> None:
    secret = _subscribe(tenant, receiver, ["phone_number.assigned", "phone_number.released"])
    number = fresh_line_number()
    assigned = tenant.http.post("/sim/v1/lines", json={"phone_number": number})
    assert assigned.status_code == 201, assigned.text
    line = assigned.json()
    assert (line["phone_number"], line["released"]) == (number, False)
    chat_id, _ = send_text(tenant, A, line=number)
    assert number in {p.phone_number for p in tenant.client.phone_numbers.list().phone_numbers}

    released = tenant.http.delete(f"/sim/v1/lines/{number}")
    assert released.status_code == 204, released.text
    listed = {p.phone_number for p in tenant.client.phone_numbers.list().phone_numbers}
    assert number not in listed
    with pytest.raises(linq.PermissionDeniedError) as refused:
        send_text(tenant, B, line=number)
    assert refused.value.status_code == 403
    assert tenant.client.chats.retrieve(chat_id).id == chat_id  # its history stays readable
    _error(tenant.http.delete(f"/sim/v1/lines/{number}"), 403, 2006)

    again = tenant.http.post("/sim/v1/lines", json={"phone_number": number})
    assert again.status_code == 201, again.text
    assert again.json()["id"] == line["id"]  # the same line comes back
    with tenant_on(server) as other:
        taken = other.http.post("/sim/v1/lines", json={"phone_number": number})
        _error(taken, 409, 2015)

    envelopes = _received(tenant, receiver, secret)
    assert [e["event_type"] for e in envelopes] == [
        "phone_number.assigned",
        "phone_number.released",
        "phone_number.assigned",
    ]
    first, gone, _ = envelopes
    PhoneNumberAssignedWebhookEvent.model_validate(first)
    PhoneNumberReleasedWebhookEvent.model_validate(gone)
    for envelope in envelopes:
        assert envelope["data"] == {
            "phone_number": number,
            "changed_at": envelope["data"]["changed_at"],
        }
    assert gone["data"]["changed_at"] == gone["created_at"]


def test_changing_call_forwarding_is_announced(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver, ["phone_number.forwarding_updated"])
    line_id = tenant.lines[0].id
    tenant.client.phone_numbers.update(line_id, forwarding_number="+14155559999")
    tenant.client.phone_numbers.update(line_id, forwarding_number="+14155559999")  # no change
    tenant.client.phone_numbers.update(line_id, forwarding_number=None)
    envelopes = _received(tenant, receiver, secret)
    assert len(envelopes) == 2
    changes = []
    for envelope in envelopes:
        event = PhoneNumberForwardingUpdatedWebhookEvent.model_validate(envelope)
        assert event.data.phone_number == tenant.line
        data = _account_data(envelope, "api", "api")
        changes.append(data["change"])
    assert changes == [{"from": None, "to": "+14155559999"}, {"from": "+14155559999", "to": None}]


# -- zero_day_retention.updated and zero-retention message events ----------------------------


def test_a_zero_retention_line_sends_events_without_content(
    tenant: Tenant, receiver: Receiver
) -> None:
    secret = _subscribe(
        tenant,
        receiver,
        ["zero_day_retention.updated", "message.sent", "message.received", "message.edited"],
    )
    assert _sim_line(tenant, tenant.line, zero_retention=True)["zero_retention"] is True
    _sim_line(tenant, tenant.line, zero_retention=True)  # already on: no second event
    chat_id, message_id = send_text(tenant, PHONE, "private")
    tenant.sim.advance(0)  # sent while the line is on zero retention
    tenant.client.messages.update(message_id, text="still private", part_index=0)
    tenant.sim.send(PHONE, to=tenant.line, text="me too")
    _sim_line(tenant, tenant.line, zero_retention=False)
    send_text(tenant, PHONE, "public again")
    envelopes = _received(tenant, receiver, secret)

    toggles = [e for e in envelopes if e["event_type"] == "zero_day_retention.updated"]
    for envelope in toggles:
        ZeroDayRetentionUpdatedWebhookEvent.model_validate(envelope)
        assert _account_data(envelope, "linq", "system")["phone_number"] == tenant.line
    assert [e["data"]["change"] for e in toggles] == [
        {"from": False, "to": True},
        {"from": True, "to": False},
    ]
    sent = [e for e in envelopes if e["event_type"] == "message.sent"]
    private, public = (MessageSentWebhookEvent.model_validate(e).data for e in sent)
    assert (private.parts, private.zero_retention) == ([], True)
    assert public.zero_retention is None
    assert len(public.parts) == 1
    received = _only(envelopes, "message.received")["data"]
    assert (received["parts"], received["zero_retention"]) == ([], True)
    edited = MessageEditedWebhookEvent.model_validate(_only(envelopes, "message.edited")).data
    assert (edited.part.text, edited.zero_retention) == ("", True)
    # The API still answers with the content: openlinq keeps it (docs/differences.md).
    stored = tenant.http.get(f"/v3/messages/{message_id}").json()
    assert (stored["chat_id"], stored["parts"][0]["value"]) == (chat_id, "still private")


# -- chat.group_name_update_failed / chat.group_icon_update_failed -------------------------


def test_the_simulator_makes_group_updates_fail(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(
        tenant,
        receiver,
        [
            "chat.group_name_update_failed",
            "chat.group_icon_update_failed",
            "chat.group_name_updated",
            "chat.group_icon_updated",
        ],
    )
    group = tenant.client.chats.create(
        from_=tenant.line, to=[A, B], message={"parts": [{"type": "text", "value": "hi"}]}
    ).chat.id
    assert _sim_line(tenant, tenant.line, group_update_error=4001)["group_update_error"] == 4001
    reply = tenant.client.chats.update(
        group, display_name="Team", group_chat_icon="https://example.com/icon.png"
    )
    assert reply.status == "accepted"  # accepted, then it fails on the device
    chat = tenant.client.chats.retrieve(group)
    assert chat.display_name != "Team"
    assert chat.group_chat_icon is None
    assert _sim_line(tenant, tenant.line, group_update_error=None)["group_update_error"] is None
    tenant.client.chats.update(group, display_name="Team")
    tenant.client.chats.update(group, group_chat_icon="https://example.com/icon.png")
    now = clock_now(tenant)
    envelopes = _received(tenant, receiver, secret)
    assert [e["event_type"] for e in envelopes] == [
        "chat.group_name_update_failed",
        "chat.group_icon_update_failed",
        "chat.group_name_updated",
        "chat.group_icon_updated",
    ]
    icon = ChatGroupIconUpdatedWebhookEvent.model_validate(envelopes[3]).data
    assert (icon.chat_id, icon.old_value, icon.new_value) == (
        group,
        None,
        "https://example.com/icon.png",
    )
    name_failed = ChatGroupNameUpdateFailedWebhookEvent.model_validate(envelopes[0]).data
    icon_failed = ChatGroupIconUpdateFailedWebhookEvent.model_validate(envelopes[1]).data
    for failed in (name_failed, icon_failed):
        assert (failed.chat_id, failed.error_code, failed.failed_at) == (group, 4001, now)
    assert tenant.client.chats.retrieve(group).display_name == "Team"


@pytest.mark.parametrize("change", [{"group_update_error": 1234}, {"zero_retentoin": True}])
def test_a_bad_line_change_is_refused(tenant: Tenant, change: dict[str, Any]) -> None:
    _error(tenant.http.patch(f"/sim/v1/lines/{tenant.line}", json=change), 400, 1005)


def test_changing_a_line_that_is_not_yours_is_refused(tenant: Tenant) -> None:
    response = tenant.http.patch(f"/sim/v1/lines/{A}", json={"zero_retention": True})
    _error(response, 403, 2006)


# -- contact_card.received / contact_card.deleted ------------------------------------------


def test_a_phone_shares_its_contact_card(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver, ["contact_card.received"])
    shared = tenant.http.post(
        f"/sim/v1/devices/{PHONE}/contact-card",
        json={"to": tenant.line, "first_name": "Ada", "media_url": "https://example.com/a.jpg"},
    )
    assert shared.status_code == 204, shared.text
    (envelope,) = _received(tenant, receiver, secret)
    event = ContactCardReceivedWebhookEvent.model_validate(envelope)
    assert event.data.model_dump() == {
        "first_name": "Ada",
        "last_name": "",
        "owner_handle": tenant.line,
        "sender_handle": PHONE,
        "media_url": "https://example.com/a.jpg",
    }
    not_mine = tenant.http.post(
        f"/sim/v1/devices/{PHONE}/contact-card", json={"to": A, "first_name": "Ada"}
    )
    _error(not_mine, 403, 2006)


def test_deleting_a_contact_card(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver, ["contact_card.deleted"])
    tenant.client.contact_card.create(phone_number=tenant.line, first_name="Openlinq")
    deleted = tenant.http.delete(f"/sim/v1/lines/{tenant.line}/contact-card")
    assert deleted.status_code == 204, deleted.text
    assert tenant.client.contact_card.retrieve().contact_cards == []
    _error(tenant.http.delete(f"/sim/v1/lines/{tenant.line}/contact-card"), 404, 2012)
    (envelope,) = _received(tenant, receiver, secret)
    event = ContactCardDeletedWebhookEvent.model_validate(envelope)
    assert event.data.contact_card is not None
    assert (event.data.contact_card.id, event.data.contact_card.first_name) == (
        tenant.lines[0].id,
        "Openlinq",
    )
    assert _account_data(envelope, "linq", "system")["phone_number"] == tenant.line


# -- api_token.* ---------------------------------------------------------------------------


def test_api_tokens_created_rotated_and_revoked(
    tenant: Tenant, receiver: Receiver, server: RunningServer
) -> None:
    secret = _subscribe(tenant, receiver, ["api_token.created", "api_token.deleted"])
    accounts = server.services.accounts
    account = AccountId(tenant.account_id)
    server.call(functools.partial(accounts.add_key, account, "ci", origin="dashboard"))
    keys = server.call(accounts.keys, account)
    ci = next(k for k in keys if k["name"] == "ci")
    assert server.call(functools.partial(accounts.revoke_key, ci["id"], origin="linq"))
    assert not server.call(functools.partial(accounts.revoke_key, ci["id"], origin="linq"))
    envelopes = _received(tenant, receiver, secret)
    assert [e["event_type"] for e in envelopes] == ["api_token.created", "api_token.deleted"]
    created = APITokenCreatedWebhookEvent.model_validate(envelopes[0]).data
    deleted = APITokenDeletedWebhookEvent.model_validate(envelopes[1]).data
    for token in (created.api_token, deleted.api_token):
        assert token is not None
        assert (token.id, token.name, token.token_prefix) == (ci["id"], "ci", ci["prefix"])
        assert token.expires_at is None
    _account_data(envelopes[0], "dashboard", "unknown")
    _account_data(envelopes[1], "linq", "system")


def test_provisioning_an_account_is_no_event(server: RunningServer) -> None:
    with tenant_on(server) as fresh:  # the account, its first key and lines: nobody to tell
        assert fresh.sim.events() == []


# -- the other subscription changes (emitted since the subscriptions API was built) --------


def test_target_phone_number_and_routing_changes_are_announced(
    tenant: Tenant, receiver: Receiver
) -> None:
    watcher = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/watch"),
        subscribed_events=[
            "webhook_subscription.target_url_changed",
            "webhook_subscription.phone_numbers.updated",
            "webhook_subscription.routing_headers_set",
            "webhook_subscription.routing_headers_cleared",
        ],
    )
    target = tenant.client.webhook_subscriptions.create(
        target_url="https://hooks.example.com/a", subscribed_events=["message.sent"]
    )
    changes = tenant.client.webhook_subscriptions
    changes.update(target.id, target_url="https://hooks.example.com/b?token=x")
    changes.update(target.id, phone_numbers=[tenant.line])
    changes.update(target.id, routing_key_header="X-Route")
    changes.update(target.id, routing_key_header=None)
    moved, lines, routed, unrouted = _received(tenant, receiver, watcher.signing_secret)
    subscriptions: list[Any] = [
        WebhookSubscriptionTargetURLChangedWebhookEvent.model_validate(moved).data,
        WebhookSubscriptionPhoneNumbersUpdatedWebhookEvent.model_validate(lines).data,
        WebhookSubscriptionRoutingHeadersSetWebhookEvent.model_validate(routed).data,
        WebhookSubscriptionRoutingHeadersClearedWebhookEvent.model_validate(unrouted).data,
    ]
    for data in subscriptions:
        assert data.webhook_subscription is not None
        assert data.webhook_subscription.id == target.id
    assert moved["data"]["change"] == {
        "from": "https://hooks.example.com/a",
        "to": "https://hooks.example.com/b",
    }
    assert lines["data"]["change"] == {"from": None, "to": [tenant.line]}
    assert routed["data"]["change"] == {"from": None, "to": "X-Route"}
    assert unrouted["data"]["change"] == {"from": "X-Route", "to": None}


# -- webhook_subscription.disabled when the dispatcher gives up on an endpoint -------------


def test_the_automatic_disable_is_announced(tenant: Tenant, receiver: Receiver) -> None:
    watcher = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/watch"), subscribed_events=["webhook_subscription.disabled"]
    )
    with running_receiver() as dead:
        failing = tenant.client.webhook_subscriptions.create(
            target_url=dead.url(), subscribed_events=["message.sent"]
        )
    hour = 3600.0
    send_text(tenant, A)  # fails: the endpoint fails from here
    tenant.sim.advance(0)
    tenant.sim.advance(73 * hour)  # its retries ran out long ago
    send_text(tenant, B)  # fails 73 h after the first failure: disabled
    tenant.sim.advance(0)
    assert tenant.client.webhook_subscriptions.retrieve(failing.id).is_active is False
    (envelope,) = _received(tenant, receiver, watcher.signing_secret)
    event = WebhookSubscriptionDisabledWebhookEvent.model_validate(envelope)
    assert event.data.webhook_subscription is not None
    assert event.data.webhook_subscription.id == failing.id
    assert event.data.change is None
    _account_data(envelope, "linq", "system")
