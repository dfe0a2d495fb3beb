"""Agent payments through the official SDK: providers, handle connections, payments.

The provider is openlinq's simulated agentcard: its hosted pages and the simulated
customer's wallet (/sim/v1/devices/{handle}/wallet) play the admin and the phone.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import linq
import pytest
from linq.types import ConnectionCreatedWebhookEvent, ConnectionRevokedWebhookEvent
from linq.types.shared import TextPartResponse

from tests.support.receiver import Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant

CUSTOMER = "+14155557001"
PAY = {"amount_cents": 2599, "currency": "usd", "handle": CUSTOMER}


def refused(kind: type[linq.APIStatusError], call: Callable[[], Any]) -> tuple[int, int, str]:
    """The call fails with this SDK error and the Linq error body: (status, code, message)."""
    with pytest.raises(kind) as raised:
        call()
    body = raised.value.response.json()
    assert body["success"] is False
    assert body["trace_id"]
    error = body["error"]
    assert error["status"] == raised.value.status_code
    assert error["doc_url"].endswith(f"/{error['code']}/")
    return raised.value.status_code, error["code"], error["message"]


def enable(tenant: Tenant, status: str = "ready") -> None:
    response = tenant.http.put("/sim/v1/payments/providers/agentcard", json={"status": status})
    assert response.status_code == 200, response.text


def wallet(tenant: Tenant, handle: str = CUSTOMER) -> dict[str, Any]:
    response = tenant.http.get(f"/sim/v1/devices/{handle}/wallet")
    assert response.status_code == 200, response.text
    return dict(response.json())


def set_wallet(tenant: Tenant, handle: str = CUSTOMER, **settings: bool) -> None:
    response = tenant.http.put(f"/sim/v1/devices/{handle}/wallet", json=settings)
    assert response.status_code == 200, response.text


def decide(tenant: Tenant, action_id: str, decision: str, handle: str = CUSTOMER) -> str:
    response = tenant.http.post(
        f"/sim/v1/devices/{handle}/wallet/actions/{action_id}", json={"decision": decision}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["stage"])


def connect(tenant: Tenant, handle: str = CUSTOMER) -> None:
    """Connect a customer: the code reaches their phone, the agent verifies it."""
    pending = tenant.client.payment_handles.connect(handle)
    assert pending.connect_id
    code = wallet(tenant, handle)["messages"][-1]["code"]
    tenant.client.payment_handles.verify(handle, code=code, connect_id=pending.connect_id)


def create(tenant: Tenant, key: str | None = None, **overrides: Any) -> linq.types.Payment:
    headers = {"Idempotency-Key": key} if key else None
    return tenant.client.payments.create(**{**PAY, **overrides}, extra_headers=headers)


def ready_payment(tenant: Tenant) -> linq.types.Payment:
    """A payment with a minted card: connected customer, card on file, no passkey."""
    enable(tenant)
    connect(tenant)
    set_wallet(tenant, card_on_file=True, approval_required=False)
    payment = create(tenant)
    assert payment.status == "ready"
    assert payment.id
    return payment


# -- providers -------------------------------------------------------------------------------


def test_a_provider_never_connected_reads_disabled(tenant: Tenant) -> None:
    provider = tenant.client.payment_providers.retrieve("agentcard")
    assert (provider.provider, provider.status) == ("agentcard", "disabled")


def test_unknown_providers_are_404(tenant: Tenant) -> None:
    status, code, message = refused(
        linq.NotFoundError, lambda: tenant.client.payment_providers.retrieve("stripe")
    )
    assert (status, code) == (404, 1005)
    assert "agentcard" in message
    assert refused(
        linq.NotFoundError,
        lambda: tenant.client.payment_providers.connect("paypal", return_url="https://a.example/"),
    )[:2] == (404, 1005)


def test_onboarding_on_the_hosted_page_makes_the_provider_ready(tenant: Tenant) -> None:
    started = tenant.client.payment_providers.connect(
        "agentcard", return_url="https://agent.example/back?x=1"
    )
    assert started.status == "onboarding"
    assert started.session_id
    assert started.hosted_url
    assert tenant.client.payment_providers.retrieve("agentcard").status == "onboarding"
    with httpx.Client() as browser:  # the admin: no API key
        page = browser.get(started.hosted_url)
        assert page.status_code == 200
        assert "Authorize" in page.text
        done = browser.post(started.hosted_url, data={"decision": "authorize"})
    assert done.status_code == 303
    back = urlsplit(done.headers["location"])
    assert (back.scheme, back.netloc, back.path) == ("https", "agent.example", "/back")
    assert parse_qs(back.query) == {
        "x": ["1"],
        "session_id": [started.session_id],
        "status": ["ready"],
    }
    assert tenant.client.payment_providers.retrieve("agentcard").status == "ready"
    again = tenant.client.payment_providers.connect("agentcard", return_url="https://a.example/")
    assert (again.status, again.hosted_url, again.session_id) == ("ready", None, None)


def test_declining_onboarding_disables_the_provider(tenant: Tenant) -> None:
    started = tenant.client.payment_providers.connect("agentcard", return_url="https://a.example/")
    assert started.hosted_url
    with httpx.Client() as browser:
        assert browser.post(started.hosted_url, data={"decision": "decline"}).status_code == 303
        # The session is over: deciding again is a conflict, the page says so.
        again = browser.post(started.hosted_url, data={"decision": "authorize"})
        assert (again.status_code, again.json()["error"]["code"]) == (409, 2015)
        assert "over" in browser.get(started.hosted_url).text
        unknown = browser.get(started.hosted_url.rsplit("/", 1)[0] + "/ses_nope")
        assert unknown.status_code == 404
    assert tenant.client.payment_providers.retrieve("agentcard").status == "disabled"


@pytest.mark.parametrize(
    "return_url", ["not a url", "/relative", "ftp://a.example/", "https://", "javascript:alert(1)"]
)
def test_connect_needs_an_absolute_http_return_url(tenant: Tenant, return_url: str) -> None:
    assert refused(
        linq.BadRequestError,
        lambda: tenant.client.payment_providers.connect("agentcard", return_url=return_url),
    )[:2] == (400, 1005)


def test_connect_without_a_return_url_is_a_missing_field(tenant: Tenant) -> None:
    response = tenant.http.post("/v3/payments/providers/agentcard/connect", json={})
    assert (response.status_code, response.json()["error"]["code"]) == (400, 1001)


# -- the account must be enabled ---------------------------------------------------------------


@pytest.mark.parametrize("provider_status", [None, "onboarding", "disabled"])
def test_handles_and_payments_need_a_ready_provider(
    tenant: Tenant, provider_status: str | None
) -> None:
    if provider_status:
        enable(tenant, provider_status)
    client = tenant.client
    for call in (
        lambda: client.payment_handles.connect(CUSTOMER),
        lambda: client.payment_handles.verify(CUSTOMER, code="123456", connect_id="cxn_x"),
        lambda: create(tenant),
    ):
        status, code, message = refused(linq.PermissionDeniedError, call)
        assert (status, code) == (403, 2011)
        assert "agentcard" in message
    # Reads still answer.
    assert client.payment_handles.connection(CUSTOMER).status == "not_connected"


def test_the_provider_is_enabled_per_account(server: RunningServer, tenant: Tenant) -> None:
    enable(tenant)
    other = create_tenant(server)
    try:
        assert other.client.payment_providers.retrieve("agentcard").status == "disabled"
        assert refused(
            linq.PermissionDeniedError, lambda: other.client.payment_handles.connect(CUSTOMER)
        )[:2] == (403, 2011)
    finally:
        other.client.close()
        other.http.close()
    assert tenant.client.payment_handles.connect(CUSTOMER).status == "pending"


# -- handle connections ----------------------------------------------------------------------


def test_connecting_a_customer_with_the_code_from_their_phone(tenant: Tenant) -> None:
    enable(tenant)
    client = tenant.client
    assert client.payment_handles.connection(CUSTOMER).status == "not_connected"
    pending = client.payment_handles.connect(CUSTOMER)
    assert (pending.handle, pending.status) == (CUSTOMER, "pending")
    connect_id = pending.connect_id
    assert connect_id
    # connect_id is only handed out by connect.
    read = client.payment_handles.connection(CUSTOMER)
    assert (read.status, read.connect_id) == ("pending", None)
    phone = wallet(tenant)
    assert phone["connection_status"] == "pending"
    message = phone["messages"][-1]
    assert message["sender"] == "agentcard"
    assert message["code"] in message["text"]
    wrong = "000000" if message["code"] != "000000" else "111111"
    assert refused(
        linq.BadRequestError,
        lambda: client.payment_handles.verify(CUSTOMER, code=wrong, connect_id=connect_id),
    )[:2] == (400, 1005)
    connected = client.payment_handles.verify(CUSTOMER, code=message["code"], connect_id=connect_id)
    assert (connected.handle, connected.status, connected.connect_id) == (
        CUSTOMER,
        "connected",
        None,
    )
    assert client.payment_handles.connection(CUSTOMER).status == "connected"
    # The code was single-use; connecting a connected customer starts nothing.
    assert refused(
        linq.ConflictError,
        lambda: client.payment_handles.verify(
            CUSTOMER, code=message["code"], connect_id=connect_id
        ),
    )[:2] == (409, 2015)
    again = client.payment_handles.connect(CUSTOMER)
    assert (again.status, again.connect_id) == ("connected", None)


def test_an_email_handle_connects_lower_cased(tenant: Tenant) -> None:
    enable(tenant)
    pending = tenant.client.payment_handles.connect("Buyer@Example.com")
    assert pending.handle == "buyer@example.com"
    assert wallet(tenant, "buyer@example.com")["messages"]


def test_a_code_expires_and_connect_starts_over(tenant: Tenant) -> None:
    enable(tenant)
    client = tenant.client
    first = client.payment_handles.connect(CUSTOMER)
    code = wallet(tenant)["messages"][-1]["code"]
    tenant.sim.advance(10 * 60)
    assert client.payment_handles.connection(CUSTOMER).status == "not_connected"
    status, code_number, message = refused(
        linq.ConflictError,
        lambda: client.payment_handles.verify(
            CUSTOMER, code=code, connect_id=first.connect_id or ""
        ),
    )
    assert (status, code_number) == (409, 2015)
    assert "expired" in message
    second = client.payment_handles.connect(CUSTOMER)
    assert second.connect_id
    assert second.connect_id != first.connect_id
    fresh = wallet(tenant)["messages"][-1]["code"]
    # The first ceremony's id no longer verifies anything.
    assert refused(
        linq.BadRequestError,
        lambda: client.payment_handles.verify(
            CUSTOMER, code=fresh, connect_id=first.connect_id or ""
        ),
    )[:2] == (400, 1005)
    verified = client.payment_handles.verify(CUSTOMER, code=fresh, connect_id=second.connect_id)
    assert verified.status == "connected"


def test_five_wrong_codes_void_the_ceremony(tenant: Tenant) -> None:
    enable(tenant)
    client = tenant.client
    pending = client.payment_handles.connect(CUSTOMER)
    code = wallet(tenant)["messages"][-1]["code"]
    wrong = "000000" if code != "000000" else "111111"
    connect_id = pending.connect_id or ""
    for _ in range(4):
        assert refused(
            linq.BadRequestError,
            lambda: client.payment_handles.verify(CUSTOMER, code=wrong, connect_id=connect_id),
        )[:2] == (400, 1005)
    assert refused(
        linq.ConflictError,
        lambda: client.payment_handles.verify(CUSTOMER, code=wrong, connect_id=connect_id),
    )[:2] == (409, 2015)
    # Even the right code is too late now.
    status, code_number, message = refused(
        linq.ConflictError,
        lambda: client.payment_handles.verify(CUSTOMER, code=code, connect_id=connect_id),
    )
    assert (status, code_number) == (409, 2015)
    assert "wrong codes" in message
    assert client.payment_handles.connection(CUSTOMER).status == "not_connected"


def test_revoking_a_grant(tenant: Tenant) -> None:
    enable(tenant)
    client = tenant.client
    status, code, _ = refused(linq.NotFoundError, lambda: client.payment_handles.revoke(CUSTOMER))
    assert (status, code) == (404, 2015)
    connect(tenant)
    revoked = client.payment_handles.revoke(CUSTOMER)
    assert (revoked.handle, revoked.status) == (CUSTOMER, "revoked")
    assert client.payment_handles.connection(CUSTOMER).status == "revoked"
    assert refused(linq.NotFoundError, lambda: client.payment_handles.revoke(CUSTOMER))[:2] == (
        404,
        2015,
    )
    # A revoked customer pays again only after connecting again.
    assert create(tenant).status == "needs_connection"
    connect(tenant)
    assert client.payment_handles.connection(CUSTOMER).status == "connected"


@pytest.mark.parametrize(("handle", "code"), [("4155550100", 1002), ("not@an@email", 1005)])
def test_a_handle_must_be_a_phone_or_an_email(tenant: Tenant, handle: str, code: int) -> None:
    enable(tenant)
    assert refused(linq.BadRequestError, lambda: tenant.client.payment_handles.connect(handle))[
        :2
    ] == (400, code)
    assert refused(linq.BadRequestError, lambda: tenant.client.payment_handles.connection(handle))[
        :2
    ] == (400, code)


def test_connection_events_are_signed_and_validate_with_the_sdk(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["connection.created", "connection.revoked"]
    )
    enable(tenant)
    connect(tenant)
    tenant.client.payment_handles.revoke(CUSTOMER)
    tenant.sim.settle(2)
    hits = receiver.wait_for(2)
    by_type = {hit.event["event_type"]: hit for hit in hits}
    assert set(by_type) == {"connection.created", "connection.revoked"}
    for event_type, model, status, connection_status in (
        ("connection.created", ConnectionCreatedWebhookEvent, "succeeded", "connected"),
        ("connection.revoked", ConnectionRevokedWebhookEvent, "canceled", "revoked"),
    ):
        hit = by_type[event_type]
        event = tenant.client.webhooks.unwrap(
            hit.body.decode(), headers=hit.headers, key=subscription.signing_secret
        )
        assert event.event_type == event_type
        envelope = model.model_validate(hit.event)  # the SDK's own class, every field checked
        data = hit.event["data"]
        assert envelope.data.status == status
        assert (data["handle"], data["provider"], data["connection_status"]) == (
            CUSTOMER,
            "agentcard",
            connection_status,
        )
        assert data["object"] == "payment_handle_connection"
    assert (
        by_type["connection.created"].event["data"]["id"]
        == (by_type["connection.revoked"].event["data"]["id"])
    )


# -- payments ---------------------------------------------------------------------------------


def test_a_customer_not_connected_needs_a_connection(tenant: Tenant) -> None:
    enable(tenant)
    payment = create(
        tenant, description="Flight", merchant={"name": "Air", "url": "https://a.example"}
    )
    assert (payment.status, payment.id, payment.attach_url, payment.approval_url) == (
        "needs_connection",
        None,
        None,
        None,
    )
    assert (payment.amount_cents, payment.currency, payment.handle) == (2599, "usd", CUSTOMER)
    assert payment.merchant
    assert payment.merchant.name == "Air"
    tenant.client.payment_handles.connect(CUSTOMER)
    assert create(tenant).status == "connecting"


def test_attach_a_card_approve_with_the_passkey_then_collect(tenant: Tenant) -> None:
    enable(tenant)
    connect(tenant)
    key = str(uuid.uuid4())
    first = create(tenant, key, metadata={"order": "A-1"})
    assert (first.status, first.id, first.approval_url) == ("awaiting_user_action", None, None)
    assert first.attach_url
    action = wallet(tenant)["actions"][-1]
    assert (action["kind"], action["url"], action["amount_cents"]) == (
        "attach_card",
        first.attach_url,
        2599,
    )
    assert decide(tenant, action["action_id"], "accept") == "attach"
    assert wallet(tenant)["card_on_file"] is True
    second = create(tenant, key, metadata={"order": "A-1"})
    assert (second.status, second.attach_url, second.id) == ("awaiting_user_action", None, None)
    assert second.approval_url
    approval = wallet(tenant)["actions"][-1]
    assert (approval["kind"], approval["url"]) == ("approve", second.approval_url)
    # Not approved yet: the same request answers the same.
    assert create(tenant, key, metadata={"order": "A-1"}).approval_url == second.approval_url
    assert decide(tenant, approval["action_id"], "accept") == "approved"
    third = create(tenant, key, metadata={"order": "A-1"})
    assert third.status == "ready"
    assert third.id
    assert (third.attach_url, third.approval_url, third.metadata) == (None, None, {"order": "A-1"})
    assert tenant.client.payments.retrieve(third.id).status == "ready"
    assert create(tenant, key, metadata={"order": "A-1"}).id == third.id
    assert wallet(tenant)["actions"] == []


def test_the_hosted_pages_attach_and_approve(tenant: Tenant) -> None:
    enable(tenant)
    connect(tenant)
    key = str(uuid.uuid4())
    attach_url = create(tenant, key, merchant={"name": "Shop <b>"}).attach_url
    assert attach_url
    with httpx.Client() as phone:
        page = phone.get(attach_url)
        assert page.status_code == 200
        assert "25.99 USD" in page.text
        assert "Shop &lt;b&gt;" in page.text
        assert phone.post(attach_url, data={"decision": "accept"}).status_code == 200
        approval_url = create(tenant, key, merchant={"name": "Shop <b>"}).approval_url
        assert approval_url
        assert phone.get(attach_url).status_code == 404  # that step is done
        assert phone.post(approval_url, data={"decision": "nope"}).status_code == 400
        assert phone.post(approval_url, data={"decision": "accept"}).status_code == 200
    assert create(tenant, key, merchant={"name": "Shop <b>"}).status == "ready"


def test_the_customer_declines(tenant: Tenant) -> None:
    enable(tenant)
    connect(tenant)
    set_wallet(tenant, card_on_file=True)
    key = str(uuid.uuid4())
    assert create(tenant, key).status == "awaiting_user_action"
    assert decide(tenant, wallet(tenant)["actions"][-1]["action_id"], "decline") == "declined"
    declined = create(tenant, key)
    assert (declined.status, declined.id, declined.approval_url) == ("declined", None, None)


def test_an_approval_left_alone_expires(tenant: Tenant) -> None:
    enable(tenant)
    connect(tenant)
    set_wallet(tenant, card_on_file=True)
    key = str(uuid.uuid4())
    assert create(tenant, key).approval_url
    action_id = wallet(tenant)["actions"][-1]["action_id"]
    tenant.sim.advance(15 * 60)
    assert create(tenant, key).status == "expired"
    assert wallet(tenant)["actions"] == []
    response = tenant.http.post(
        f"/sim/v1/devices/{CUSTOMER}/wallet/actions/{action_id}", json={"decision": "accept"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (409, 2015)


def test_credentials_hand_off_a_short_lived_token_for_the_provider(tenant: Tenant) -> None:
    payment = ready_payment(tenant)
    assert payment.id
    handoff = tenant.client.payments.credentials(payment.id).handoff
    assert handoff
    assert handoff.provider == "agentcard"
    assert handoff.card_ref
    assert handoff.fetch_url
    assert handoff.user_token
    with httpx.Client() as agent:
        card = agent.get(
            handoff.fetch_url, headers={"Authorization": f"Bearer {handoff.user_token}"}
        )
        assert card.status_code == 200, card.text
        assert card.json()["number"] == "4242424242424242"
        assert card.json()["card_ref"] == handoff.card_ref
        assert agent.get(handoff.fetch_url).status_code == 401
        assert (
            agent.get(handoff.fetch_url, headers={"Authorization": "Bearer utok_x"}).status_code
            == 403
        )
        tenant.sim.advance(5 * 60)
        late = agent.get(
            handoff.fetch_url, headers={"Authorization": f"Bearer {handoff.user_token}"}
        )
        assert late.status_code == 403
    # No card number ever passes through the API.
    assert "4242" not in tenant.http.get(f"/v3/payments/{payment.id}/credentials").text


def test_the_merchant_charges_the_card(tenant: Tenant) -> None:
    payment = ready_payment(tenant)
    assert payment.id

    def charge(outcome: str) -> httpx.Response:
        return tenant.http.post(f"/sim/v1/payments/{payment.id}/charge", json={"outcome": outcome})

    assert charge("authorize").json() == {"stage": "authorized"}
    assert tenant.client.payments.retrieve(payment.id).status == "authorized"
    assert refused(
        linq.ConflictError, lambda: tenant.client.payments.credentials(payment.id or "")
    )[:2] == (409, 2015)
    assert charge("capture").json() == {"stage": "succeeded"}
    assert tenant.client.payments.retrieve(payment.id).status == "succeeded"
    assert charge("decline").status_code == 409
    status, code, message = refused(
        linq.ConflictError, lambda: tenant.client.payments.cancel(payment.id or "")
    )
    assert (status, code) == (409, 2015)
    assert "succeeded" in message


def test_a_declined_charge(tenant: Tenant) -> None:
    payment = ready_payment(tenant)
    response = tenant.http.post(
        f"/sim/v1/payments/{payment.id}/charge", json={"outcome": "decline"}
    )
    assert response.json() == {"stage": "declined"}
    assert tenant.client.payments.retrieve(payment.id or "").status == "declined"


def test_cancel_closes_the_card(tenant: Tenant) -> None:
    payment = ready_payment(tenant)
    assert payment.id
    handoff = tenant.client.payments.credentials(payment.id).handoff
    assert handoff
    assert handoff.fetch_url
    canceled = tenant.client.payments.cancel(payment.id)
    assert (canceled.id, canceled.status) == (payment.id, "canceled")
    assert tenant.client.payments.retrieve(payment.id).status == "canceled"
    with httpx.Client() as agent:
        closed = agent.get(
            handoff.fetch_url, headers={"Authorization": f"Bearer {handoff.user_token}"}
        )
        assert closed.status_code == 403
    assert refused(linq.ConflictError, lambda: tenant.client.payments.cancel(payment.id or ""))[
        :2
    ] == (409, 2015)


def test_an_unused_card_expires(tenant: Tenant) -> None:
    payment = ready_payment(tenant)
    assert payment.id
    tenant.sim.advance(30 * 60)
    assert tenant.client.payments.retrieve(payment.id).status == "expired"
    assert refused(
        linq.ConflictError, lambda: tenant.client.payments.credentials(payment.id or "")
    )[:2] == (409, 2015)


def test_a_reused_idempotency_key_with_another_payment_conflicts(tenant: Tenant) -> None:
    enable(tenant)
    connect(tenant)
    key = str(uuid.uuid4())
    create(tenant, key)
    assert refused(linq.ConflictError, lambda: create(tenant, key, amount_cents=100))[:2] == (
        409,
        2015,
    )
    # Without a key every create is a payment of its own.
    set_wallet(tenant, card_on_file=True, approval_required=False)
    assert create(tenant).id != create(tenant).id


def test_payment_ids_are_only_those_of_minted_cards(server: RunningServer, tenant: Tenant) -> None:
    payment = ready_payment(tenant)
    assert refused(linq.NotFoundError, lambda: tenant.client.payments.retrieve(str(uuid.uuid4())))[
        :2
    ] == (404, 1005)
    other = create_tenant(server)
    try:
        for call in (
            lambda: other.client.payments.retrieve(payment.id or ""),
            lambda: other.client.payments.cancel(payment.id or ""),
            lambda: other.client.payments.credentials(payment.id or ""),
        ):
            assert refused(linq.NotFoundError, call)[:2] == (404, 1005)
    finally:
        other.client.close()
        other.http.close()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount_cents": 0}, 1005),
        ({"amount_cents": -5}, 1005),
        ({"amount_cents": 100_000_000}, 1005),
        ({"currency": "dollars"}, 1005),
        ({"currency": "u1d"}, 1005),
        ({"handle": "12345"}, 1002),
        ({"merchant": {"url": "not a url"}}, 1005),
        ({"description": "x" * 1001}, 1005),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, 1005),
        ({"metadata": {"k": "v" * 501}}, 1005),
        ({"amount_cents": "100"}, 1005),
        ({"amount_cents": True}, 1005),
        ({"metadata": {"k": 1}}, 1005),
        ({"merchant": "Air"}, 1005),
    ],
)
def test_payment_requests_are_checked(tenant: Tenant, change: dict[str, Any], code: int) -> None:
    enable(tenant)
    assert refused(linq.BadRequestError, lambda: create(tenant, **change))[:2] == (400, code)


@pytest.mark.parametrize("missing", ["handle", "amount_cents", "currency"])
def test_required_payment_fields(tenant: Tenant, missing: str) -> None:
    enable(tenant)
    body = {k: v for k, v in PAY.items() if k != missing}
    response = tenant.http.post("/v3/payments", json=body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, 1001)


def test_currency_is_lower_cased(tenant: Tenant) -> None:
    enable(tenant)
    assert create(tenant, currency="EUR").currency == "eur"


def test_a_revoked_grant_stops_a_payment_waiting_for_approval(tenant: Tenant) -> None:
    enable(tenant)
    connect(tenant)
    set_wallet(tenant, card_on_file=True)
    key = str(uuid.uuid4())
    assert create(tenant, key).approval_url
    tenant.client.payment_handles.revoke(CUSTOMER)
    assert create(tenant, key).status == "needs_connection"
    connect(tenant)
    assert create(tenant, key).status == "awaiting_user_action"


def test_racing_requests_on_one_customer_never_fail(tenant: Tenant) -> None:
    """Concurrent connects (and creates with one key) each answer; one ceremony wins."""
    enable(tenant)
    barrier = threading.Barrier(6)

    def connect_once(_: int) -> str | None:
        barrier.wait()
        return tenant.client.payment_handles.connect(CUSTOMER).status

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(connect_once, range(6))) == ["pending"] * 6
    assert len(wallet(tenant)["messages"]) == 1
    connect(tenant)
    set_wallet(tenant, card_on_file=True, approval_required=False)
    key = str(uuid.uuid4())

    def create_once(_: int) -> str | None:
        barrier.wait()
        return create(tenant, key).id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(create_once, range(6)))
    assert len(ids) == 1
    assert None not in ids


def test_the_customer_texts_the_code_into_the_conversation(tenant: Tenant) -> None:
    enable(tenant)
    reply = tenant.http.post(
        f"/sim/v1/devices/{CUSTOMER}/wallet/reply-code", json={"to": tenant.line}
    )
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, 2015)
    pending = tenant.client.payment_handles.connect(CUSTOMER)
    reply = tenant.http.post(
        f"/sim/v1/devices/{CUSTOMER}/wallet/reply-code", json={"to": tenant.line}
    )
    assert reply.status_code == 201, reply.text
    # The agent reads the code from the customer's message, as it would in production.
    received = tenant.client.messages.retrieve(reply.json()["message_id"])
    assert received.parts
    (part,) = received.parts
    assert isinstance(part, TextPartResponse)
    code = part.value
    assert tenant.sim.events("message.received")[-1]["data"]["id"] == received.id
    verified = tenant.client.payment_handles.verify(
        CUSTOMER, code=code, connect_id=pending.connect_id or ""
    )
    assert verified.status == "connected"
