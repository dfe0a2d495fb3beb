"""The webhook subscriptions API through the official SDK, and the account events it emits."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, cast, get_args

import linq
import pytest
from linq.types import WebhookEventType, WebhookSubscription

from tests.contract.test_webhook_delivery import (
    clock_now,
    forget_subscriptions,  # noqa: F401  (autouse fixture)
    verify,
)
from tests.support.receiver import Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant

SUBSCRIPTION_EVENTS: list[WebhookEventType] = [
    "webhook_subscription.created",
    "webhook_subscription.deleted",
    "webhook_subscription.target_url_changed",
    "webhook_subscription.enabled",
    "webhook_subscription.disabled",
    "webhook_subscription.events.updated",
    "webhook_subscription.phone_numbers.updated",
    "webhook_subscription.routing_headers_set",
    "webhook_subscription.routing_headers_cleared",
]
URL = "https://hooks.example.com/linq"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def _create(tenant: Tenant, url: str = URL, **fields: Any) -> Any:
    fields.setdefault("subscribed_events", ["message.sent"])
    return tenant.client.webhook_subscriptions.create(target_url=url, **fields)


@pytest.fixture
def other_tenant(server: RunningServer) -> Iterator[Tenant]:
    other = create_tenant(server)
    yield other
    for subscription in other.client.webhook_subscriptions.list().subscriptions:
        other.client.webhook_subscriptions.delete(subscription.id)
    other.client.close()
    other.http.close()


# -- create, and the secret shown once ---------------------------------------------------


def test_create_returns_the_subscription_and_a_whsec_secret_of_32_random_bytes(
    tenant: Tenant,
) -> None:
    created = _create(tenant, subscribed_events=["message.sent", "message.received"])
    assert created.target_url == URL
    assert created.subscribed_events == ["message.sent", "message.received"]
    assert created.is_active is True
    assert created.phone_numbers is None
    assert created.routing_key_header is None
    assert created.created_at == created.updated_at == clock_now(tenant)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created.signing_secret)
    assert len(base64.b64decode(created.signing_secret.removeprefix("whsec_"), validate=True)) == 32
    another = _create(tenant, f"{URL}/2")
    assert another.signing_secret != created.signing_secret
    assert another.id != created.id


def test_the_signing_secret_is_never_returned_again(tenant: Tenant) -> None:
    created = _create(tenant)
    raw_create = tenant.http.post(
        "/api/partner/v3/webhook-subscriptions",
        json={"target_url": f"{URL}/raw", "subscribed_events": ["message.sent"]},
    )
    assert raw_create.status_code == 201
    assert raw_create.json()["signing_secret"].startswith("whsec_")
    path = f"/api/partner/v3/webhook-subscriptions/{created.id}"
    responses = {
        "retrieve": tenant.http.get(path),
        "update": tenant.http.put(path, json={"subscribed_events": ["message.read"]}),
        "list": tenant.http.get("/api/partner/v3/webhook-subscriptions"),
    }
    for name, response in responses.items():
        assert response.status_code == 200, (name, response.text)
        assert "signing_secret" not in response.text, name
        assert created.signing_secret not in response.text, name
    listed = responses["list"].json()["subscriptions"]
    assert sorted(s["id"] for s in listed) == sorted([created.id, raw_create.json()["id"]])
    assert all("signing_secret" not in s for s in listed)


# -- read ------------------------------------------------------------------------------


def test_list_holds_active_and_inactive_subscriptions(tenant: Tenant) -> None:
    active = _create(tenant, f"{URL}/on")
    inactive = _create(tenant, f"{URL}/off")
    tenant.client.webhook_subscriptions.update(inactive.id, is_active=False)
    listed = tenant.client.webhook_subscriptions.list().subscriptions
    assert {s.id: s.is_active for s in listed} == {active.id: True, inactive.id: False}


def test_retrieve_returns_what_create_stored(tenant: Tenant) -> None:
    created = _create(
        tenant,
        subscribed_events=["message.sent", "reaction.added"],
        phone_numbers=[tenant.line],
        routing_key_header="X-Route",
        routing_id_header="X-Chat",
    )
    got = tenant.client.webhook_subscriptions.retrieve(created.id)
    assert isinstance(got, WebhookSubscription)
    expected = created.model_dump(exclude={"signing_secret"})
    assert got.model_dump() == expected
    assert got.phone_numbers == [tenant.line]
    assert (got.routing_key_header, got.routing_id_header) == ("X-Route", "X-Chat")


def test_the_event_catalogue_is_exactly_the_sdks_event_types(tenant: Tenant) -> None:
    listed = tenant.client.webhook_events.list()
    assert listed.doc_url == "https://docs.linqapp.com/channel/imessage/guides/webhooks/events"
    assert listed.events == list(get_args(WebhookEventType))
    assert len(listed.events) == len(set(listed.events)) == 75


# -- update ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"target_url": f"{URL}/moved"}, {"target_url": f"{URL}/moved"}),
        (
            {"subscribed_events": ["message.read", "chat.created"]},
            {"subscribed_events": ["message.read", "chat.created"]},
        ),
        ({"is_active": False}, {"is_active": False}),
        ({"phone_numbers": ["+14155552671"]}, {"phone_numbers": ["+14155552671"]}),
        (
            {"routing_key_header": "X-Route"},
            {"routing_key_header": "X-Route", "routing_id_header": "Linq-Chat-Id"},
        ),
        (
            {"routing_key_header": "X-Route", "routing_id_header": "X-Chat"},
            {"routing_key_header": "X-Route", "routing_id_header": "X-Chat"},
        ),
    ],
    ids=["target_url", "subscribed_events", "is_active", "phone_numbers", "routing", "routing_id"],
)
def test_update_changes_one_field_and_keeps_the_rest(
    tenant: Tenant, change: dict[str, Any], expected: dict[str, Any]
) -> None:
    created = _create(tenant)
    before = created.model_dump(exclude={"signing_secret", "updated_at"})
    tenant.sim.advance(1)
    updated = tenant.client.webhook_subscriptions.update(created.id, **change)
    after = updated.model_dump(exclude={"updated_at"})
    assert after == {**before, **expected}
    assert updated.updated_at == clock_now(tenant)
    assert updated.updated_at > created.updated_at
    assert tenant.client.webhook_subscriptions.retrieve(created.id).model_dump() == (
        updated.model_dump()
    )


@pytest.mark.parametrize("cleared", [[], None], ids=["empty", "null"])
def test_an_empty_or_null_phone_number_list_removes_the_filter(
    tenant: Tenant, cleared: list[str] | None
) -> None:
    created = _create(tenant, phone_numbers=[tenant.line])
    assert created.phone_numbers == [tenant.line]
    updated = tenant.client.webhook_subscriptions.update(created.id, phone_numbers=cleared)
    assert updated.phone_numbers is None
    assert tenant.client.webhook_subscriptions.retrieve(created.id).phone_numbers is None


def test_a_null_routing_key_header_turns_affinity_off(tenant: Tenant) -> None:
    created = _create(tenant, routing_key_header="X-Route", routing_id_header="X-Chat")
    updated = tenant.client.webhook_subscriptions.update(created.id, routing_key_header=None)
    assert (updated.routing_key_header, updated.routing_id_header) == (None, None)
    assert tenant.client.webhook_subscriptions.retrieve(created.id).routing_key_header is None


def test_update_leaves_omitted_nullable_fields_alone(tenant: Tenant) -> None:
    created = _create(tenant, phone_numbers=[tenant.line], routing_key_header="X-Route")
    updated = tenant.client.webhook_subscriptions.update(created.id, is_active=False)
    assert updated.phone_numbers == [tenant.line]
    assert updated.routing_key_header == "X-Route"


# -- delete and not-found ----------------------------------------------------------------


def test_delete_answers_204_and_the_subscription_is_gone(tenant: Tenant) -> None:
    created = _create(tenant)
    raw = tenant.client.webhook_subscriptions.with_raw_response.delete(created.id)
    assert raw.status_code == 204
    assert raw.parse() is None
    with pytest.raises(linq.NotFoundError) as e:
        tenant.client.webhook_subscriptions.retrieve(created.id)
    assert (e.value.status_code, e.value.code) == (404, 2010)
    assert tenant.client.webhook_subscriptions.list().subscriptions == []


def _calls(client: linq.LinqAPIV3) -> dict[str, Callable[[str], object]]:
    subscriptions = client.webhook_subscriptions
    return {
        "retrieve": subscriptions.retrieve,
        "update": lambda i: subscriptions.update(i, is_active=False),
        "delete": subscriptions.delete,
    }


@pytest.mark.parametrize("call", ["retrieve", "update", "delete"])
def test_an_unknown_subscription_is_404_2010(tenant: Tenant, call: str) -> None:
    deleted = _create(tenant)
    tenant.client.webhook_subscriptions.delete(deleted.id)
    for missing in (UNKNOWN_ID, deleted.id, "not-a-uuid"):
        with pytest.raises(linq.NotFoundError) as e:
            _calls(tenant.client)[call](missing)
        assert (e.value.status_code, e.value.code) == (404, 2010), missing


@pytest.mark.parametrize("call", ["retrieve", "update", "delete"])
def test_another_accounts_subscription_is_404_2010(
    tenant: Tenant, other_tenant: Tenant, call: str
) -> None:
    theirs = _create(other_tenant)
    with pytest.raises(linq.NotFoundError) as e:
        _calls(tenant.client)[call](theirs.id)
    assert (e.value.status_code, e.value.code) == (404, 2010)
    assert tenant.client.webhook_subscriptions.list().subscriptions == []
    unchanged = other_tenant.client.webhook_subscriptions.retrieve(theirs.id)
    assert unchanged.is_active is True


# -- one subscription per target_url -------------------------------------------------------


def test_a_duplicate_target_url_is_409_2015_and_not_retried(tenant: Tenant) -> None:
    _create(tenant)
    with pytest.raises(linq.ConflictError) as e:
        _create(tenant, subscribed_events=["message.read"])
    assert (e.value.status_code, e.value.code) == (409, 2015)
    assert e.value.response.headers["x-should-retry"] == "false"
    assert len(tenant.client.webhook_subscriptions.list().subscriptions) == 1


def test_moving_onto_another_subscriptions_target_url_is_409_2015(tenant: Tenant) -> None:
    _create(tenant)
    second = _create(tenant, f"{URL}/second")
    with pytest.raises(linq.ConflictError) as e:
        tenant.client.webhook_subscriptions.update(second.id, target_url=URL)
    assert (e.value.status_code, e.value.code) == (409, 2015)
    assert tenant.client.webhook_subscriptions.retrieve(second.id).target_url == f"{URL}/second"


def test_the_same_endpoint_with_an_extra_query_parameter_is_a_new_target(tenant: Tenant) -> None:
    first = _create(tenant)
    second = _create(tenant, f"{URL}?copy=2")
    listed = tenant.client.webhook_subscriptions.list().subscriptions
    assert sorted(s.target_url for s in listed) == sorted([URL, f"{URL}?copy=2"])
    assert first.id != second.id


def test_another_account_may_use_the_same_target_url(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = _create(tenant)
    theirs = _create(other_tenant)
    assert mine.target_url == theirs.target_url == URL
    assert mine.id != theirs.id


# -- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"subscribed_events": ["message.exploded"]}, 1005),
        ({"subscribed_events": ["message.sent", "call.maybe"]}, 1005),
        ({"subscribed_events": []}, 1005),
        ({"target_url": "ftp://hooks.example.com/linq"}, 1005),
        ({"target_url": "hooks.example.com/linq"}, 1005),
        ({"target_url": "https://user:pass@hooks.example.com/linq"}, 1005),
        ({"target_url": f"{URL}?version=2024-01-01"}, 1005),
        ({"target_url": f"{URL}?version=yesterday"}, 1005),
        ({"phone_numbers": ["4155552671"]}, 1002),
        ({"phone_numbers": ["+1 415 555 2671"]}, 1002),
        ({"target_url": "https://hooks.example.com/li\u0000nq"}, 1005),
        ({"target_url": "https://hooks.example.com/linq\r\nX-Injected: 1"}, 1005),
        ({"target_url": "https://hooks.example.com/a b"}, 1005),
        ({"target_url": "https://xn--zz.example.com/linq"}, 1005),
        ({"target_url": "https://-bad-.example.com/linq"}, 1005),
        ({"target_url": "http://[::1/x"}, 1005),
        ({"target_url": "https://hooks.example.com:99999/linq"}, 1005),
        ({"target_url": "https://hooks.example.com:0/linq"}, 1005),
        ({"target_url": "https:///linq"}, 1005),
        ({"target_url": "https://999.1.1.1/linq"}, 1005),
    ],
    ids=[
        "unknown-event",
        "one-unknown-event",
        "no-events",
        "ftp-url",
        "relative-url",
        "credentials-in-url",
        "version-too-old",
        "version-not-a-date",
        "phone-without-plus",
        "phone-with-spaces",
        "nul-in-url",
        "crlf-in-url",
        "space-in-url",
        "invalid-idna-host",
        "hyphen-edged-host",
        "bad-ipv6-literal",
        "port-above-65535",
        "port-zero",
        "no-host",
        "bad-ipv4-address",
    ],
)
def test_invalid_subscriptions_are_400(tenant: Tenant, fields: dict[str, Any], code: int) -> None:
    body = {"target_url": URL, "subscribed_events": ["message.sent"], **fields}
    with pytest.raises(linq.BadRequestError) as e:
        tenant.client.webhook_subscriptions.create(**cast(Any, body))
    assert (e.value.status_code, e.value.code) == (400, code)
    with pytest.raises(linq.BadRequestError) as e:
        tenant.client.webhook_subscriptions.update(_create(tenant).id, **cast(Any, fields))
    assert (e.value.status_code, e.value.code) == (400, code)
    assert [s.target_url for s in tenant.client.webhook_subscriptions.list().subscriptions] == [URL]


@pytest.mark.parametrize("version", ["2025-01-01", "2026-02-03", "2030-06-01"])
def test_a_version_on_or_after_2025_01_01_is_accepted(tenant: Tenant, version: str) -> None:
    created = _create(tenant, f"{URL}?version={version}")
    assert created.target_url == f"{URL}?version={version}"


# -- account events about subscriptions ----------------------------------------------------


def _account_events(tenant: Tenant, receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    return [verify(tenant, hit, secret) for hit in receiver.hits]


def test_a_subscription_hears_about_its_own_creation(tenant: Tenant, receiver: Receiver) -> None:
    created = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=SUBSCRIPTION_EVENTS
    )
    now = clock_now(tenant)
    tenant.sim.advance(0)
    (event,) = _account_events(tenant, receiver, created.signing_secret)
    assert event["event_type"] == "webhook_subscription.created"
    data = event["data"]
    assert data == {
        "summary": "Webhook subscription created",
        "occurred_at": data["occurred_at"],
        "actor": {"type": "api"},
        "origin": "api",
        "webhook_subscription": {
            "id": created.id,
            "target_url": receiver.url(),
            "events": SUBSCRIPTION_EVENTS,
        },
    }
    assert datetime.fromisoformat(data["occurred_at"]) == now


def test_changes_to_a_subscription_are_announced(tenant: Tenant, receiver: Receiver) -> None:
    watcher = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/watch"), subscribed_events=SUBSCRIPTION_EVENTS
    )
    target = tenant.client.webhook_subscriptions.create(
        target_url=f"{URL}?token=secret", subscribed_events=["message.sent"]
    )
    updates = tenant.client.webhook_subscriptions
    updates.update(target.id, subscribed_events=["message.sent", "message.read"])
    updates.update(target.id, is_active=False)
    updates.update(target.id, is_active=True)
    updates.delete(target.id)
    tenant.sim.settle(1)  # six deliveries to one endpoint: those past 4 at once wait 0.25 s
    about_target = [
        e
        for e in _account_events(tenant, receiver, watcher.signing_secret)
        if e["data"]["webhook_subscription"]["id"] == target.id
    ]
    assert sorted(e["event_type"] for e in about_target) == sorted(
        [
            "webhook_subscription.created",
            "webhook_subscription.events.updated",
            "webhook_subscription.disabled",
            "webhook_subscription.enabled",
            "webhook_subscription.deleted",
        ]
    )
    by_type = {e["event_type"]: e["data"] for e in about_target}
    for data in by_type.values():
        assert data["actor"] == {"type": "api"}
        assert data["origin"] == "api"
        assert data["summary"]
        assert data["webhook_subscription"]["target_url"] == URL  # no query: it may hold tokens
        datetime.fromisoformat(data["occurred_at"])
    assert by_type["webhook_subscription.events.updated"]["change"] == {
        "from": ["message.sent"],
        "to": ["message.sent", "message.read"],
    }
    assert "events" not in by_type["webhook_subscription.deleted"]["webhook_subscription"]
    assert "change" not in by_type["webhook_subscription.disabled"]


def test_an_account_event_reaches_every_subscriber_with_one_event_id(
    tenant: Tenant, receiver: Receiver
) -> None:
    first = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/a"), subscribed_events=["webhook_subscription.deleted"]
    )
    second = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/b"), subscribed_events=["webhook_subscription.deleted"]
    )
    doomed = _create(tenant)
    tenant.client.webhook_subscriptions.delete(doomed.id)
    tenant.sim.advance(0)
    by_path = {hit.path: hit for hit in receiver.hits}
    assert sorted(by_path) == ["/a", "/b"]
    a = verify(tenant, by_path["/a"], first.signing_secret)
    b = verify(tenant, by_path["/b"], second.signing_secret)
    assert a["event_id"] == b["event_id"]
    assert a["data"]["webhook_subscription"]["id"] == doomed.id


def test_routing_id_header_shows_the_linq_chat_id_default_only_when_affinity_is_on(
    tenant: Tenant,
) -> None:
    off = _create(tenant, f"{URL}/off", routing_id_header="X-Chat")
    assert (off.routing_key_header, off.routing_id_header) == (None, None)
    on = _create(tenant, f"{URL}/on", routing_key_header="X-Route")
    assert on.routing_id_header == "Linq-Chat-Id"
    custom = tenant.client.webhook_subscriptions.update(on.id, routing_id_header="X-Chat")
    assert custom.routing_id_header == "X-Chat"
    fallback = tenant.client.webhook_subscriptions.update(on.id, routing_id_header=None)
    assert fallback.routing_id_header == "Linq-Chat-Id"
    assert tenant.client.webhook_subscriptions.retrieve(on.id).routing_id_header == "Linq-Chat-Id"
