"""/console/webhooks over real HTTP: subscriptions through the API's rules, the delivery log
with each attempt's request as sent, replay and recover, and the tenant boundary."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from tests.contract.test_webhook_delivery import (
    forget_subscriptions,  # noqa: F401  (autouse fixture)
    send_text,
    verify,
)
from tests.support.console import ConsoleClient
from tests.support.receiver import Answer, Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant

SUBS = "/console/webhooks/subscriptions"


def _create(console: ConsoleClient, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    body = {"target_url": receiver.url(), "subscribed_events": ["message.sent"], **extra}
    return console.ok("POST", SUBS, json=body)


def _log(console: ConsoleClient, **params: Any) -> str:
    return console.page("/console/webhooks/log", **params)


def _statuses(fragment: str) -> list[str]:
    return re.findall(r"data-status>(\w+)<", fragment)


def test_create_shows_the_secret_once_and_the_page_lists_it_without_the_secret(
    console: ConsoleClient, tenant: Tenant, receiver: Receiver
) -> None:
    created = _create(console, receiver, phone_numbers=[tenant.line])
    secret = created["shown_once"]["value"]
    assert created["shown_once"]["label"] == "Signing secret"
    assert secret.startswith("whsec_")
    (listed,) = tenant.client.webhook_subscriptions.list().subscriptions
    assert listed.id == created["id"]
    assert (listed.target_url, listed.subscribed_events, listed.phone_numbers) == (
        receiver.url(),
        ["message.sent"],
        [tenant.line],
    )
    page = console.page("/console/webhooks")
    assert receiver.url() in page
    assert tenant.line in page
    assert 'data-state="active"' in page
    assert secret not in page


def test_the_api_rules_apply_and_errors_are_the_linq_body(
    console: ConsoleClient, receiver: Receiver
) -> None:
    response = console.act(
        "POST", SUBS, json={"target_url": receiver.url(), "subscribed_events": []}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "subscribed_events needs at least one event"
    _create(console, receiver)
    twice = console.act(
        "POST", SUBS, json={"target_url": receiver.url(), "subscribed_events": ["message.sent"]}
    )
    assert twice.status_code == 409
    assert twice.json()["success"] is False


def test_an_action_without_the_page_token_is_refused(
    console: ConsoleClient, receiver: Receiver, tenant: Tenant
) -> None:
    response = console.http.post(
        SUBS,
        json={"target_url": receiver.url(), "subscribed_events": ["message.sent"]},
    )
    assert response.status_code == 403
    assert tenant.client.webhook_subscriptions.list().subscriptions == []


def test_pause_resume_and_delete(
    console: ConsoleClient, tenant: Tenant, receiver: Receiver
) -> None:
    sub = _create(console, receiver)["id"]
    assert console.ok("PUT", f"{SUBS}/{sub}", json={"is_active": False})["is_active"] is False
    assert tenant.client.webhook_subscriptions.retrieve(sub).is_active is False
    assert 'data-state="paused"' in console.page(SUBS)
    send_text(tenant)
    tenant.sim.advance(0)
    assert receiver.hits == []
    console.ok("PUT", f"{SUBS}/{sub}", json={"is_active": True})
    assert 'data-state="active"' in console.page(SUBS)
    console.ok("DELETE", f"{SUBS}/{sub}")
    assert tenant.client.webhook_subscriptions.list().subscriptions == []
    assert "No subscriptions yet" in console.page(SUBS)


def test_the_log_shows_each_attempt_with_the_request_as_sent_and_a_replay_succeeds(
    console: ConsoleClient, tenant: Tenant, receiver: Receiver
) -> None:
    created = _create(console, receiver)
    sub, secret = created["id"], created["shown_once"]["value"]
    receiver.script(Answer(status=500, body=b'{"error":"down for maintenance"}'))
    send_text(tenant)
    tenant.sim.advance(0)
    (hit,) = receiver.hits
    envelope = verify(tenant, hit, secret)

    log = _log(console)
    assert _statuses(log) == ["retrying"]
    assert re.search(r"data-code>500<", log)
    text = html.unescape(log)
    assert "HTTP 500" in text
    assert '{"error":"down for maintenance"}' in text
    # Every header the receiver got, with the value it got, signatures included.
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "x-webhook-signature"):
        row = f'<th scope="row" class="mono">{name}</th><td class="mono">{hit.headers[name]}</td>'
        assert row in text
    # The body, pretty: the same JSON as the bytes sent.
    (body,) = re.findall(r'<pre class="request-body">(.*?)</pre>', text, re.S)
    assert json.loads(body) == envelope
    assert body.startswith('{\n  "api_version"')
    assert secret not in text
    assert secret.removeprefix("whsec_") not in text

    subscriptions = console.page(SUBS)
    assert "data-failing" in subscriptions
    assert re.search(r"data-last-status>retrying<", subscriptions)

    delivery = re.search(r'data-delivery="([^"]+)"', log)
    assert delivery is not None
    replayed = console.ok("POST", f"{SUBS}/{sub}/deliveries/{delivery.group(1)}/retry")
    assert replayed["status"] == "pending"
    tenant.sim.advance(0)
    assert [h.event["event_id"] for h in receiver.hits] == [envelope["event_id"]] * 2
    log = _log(console)
    assert _statuses(log) == ["succeeded"]
    assert re.findall(r"data-code>(\d+)<", log) == ["200", "500"]  # newest attempt first
    subscriptions = console.page(SUBS)
    assert "data-failing" not in subscriptions
    assert re.search(r"data-last-status>succeeded<", subscriptions)


def test_recover_sends_again_what_failed_for_good(
    console: ConsoleClient, tenant: Tenant, receiver: Receiver
) -> None:
    sub = _create(console, receiver)["id"]
    receiver.script(Answer(status=410), Answer(status=410))
    send_text(tenant)
    send_text(tenant, text="again")
    tenant.sim.advance(0)
    assert _statuses(_log(console, status="failed")) == ["failed", "failed"]
    answer = console.ok(
        "POST",
        "/console/webhooks/recover",
        json={"subscription_id": sub, "since": "2000-01-01T00:00:00Z"},
    )
    assert answer["requeued"] == 2
    tenant.sim.advance(0)
    assert _statuses(_log(console)) == ["succeeded", "succeeded"]
    assert _statuses(_log(console, status="failed")) == []


def test_the_log_filters_by_subscription_status_and_event_and_pages(
    console: ConsoleClient, tenant: Tenant, receiver: Receiver
) -> None:
    one = _create(console, receiver)["id"]
    two = console.ok(
        "POST",
        SUBS,
        json={
            "target_url": receiver.url("/other"),
            "subscribed_events": ["message.sent", "chat.created"],
        },
    )["id"]
    receiver.script(Answer(status=200), Answer(status=200), Answer(status=410))
    send_text(tenant)
    tenant.sim.advance(0)
    every = _log(console)
    assert len(_statuses(every)) == 3
    assert len(_statuses(_log(console, subscription=one))) == 1
    mine = _log(console, subscription=two)
    assert len(_statuses(mine)) == 2
    assert receiver.url() not in mine
    chats = _log(console, event_type="chat.created")
    assert len(_statuses(chats)) == 1
    assert chats.count('<span class="mono event">chat.created</span>') == 1
    assert _statuses(_log(console, status="failed")) == ["failed"]
    assert "No delivery matches these filters" in _log(console, status="pending")

    first = _log(console, limit=2)
    assert len(_statuses(first)) == 2
    cursor = re.search(r'data-log-cursor="([^"]+)">Older', first)
    assert cursor is not None
    rest = _log(console, limit=2, cursor=cursor.group(1))
    assert len(_statuses(rest)) == 1
    assert "Older" not in rest
    shown = re.findall(r'data-delivery="([^"]+)"', first + rest)
    assert len(set(shown)) == 3


def test_another_accounts_subscription_is_not_found(
    console: ConsoleClient, server: RunningServer, receiver: Receiver
) -> None:
    other = create_tenant(server)
    try:
        theirs = other.client.webhook_subscriptions.create(
            target_url=receiver.url("/theirs"), subscribed_events=["message.sent"]
        ).id
        for response in (
            console.act("PUT", f"{SUBS}/{theirs}", json={"is_active": False}),
            console.act("DELETE", f"{SUBS}/{theirs}"),
            console.act("POST", f"{SUBS}/{theirs}/deliveries/x/retry"),
            console.act(
                "POST",
                "/console/webhooks/recover",
                json={"subscription_id": theirs, "since": "2000-01-01T00:00:00Z"},
            ),
            console.get("/console/webhooks/log", subscription=theirs),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == 2010
        assert other.client.webhook_subscriptions.retrieve(theirs).is_active is True
        assert receiver.url("/theirs") not in console.page("/console/webhooks")
    finally:
        other.client.webhook_subscriptions.delete(theirs)
        other.client.close()
        other.http.close()
