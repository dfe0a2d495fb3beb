"""Payment requests (§5.8) through the official SDK, paid by simulated phones, with their
``payment.*`` webhooks checked by the SDK's event classes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import linq
import pytest
from linq.types import (
    PaymentAuthorizedWebhookEvent,
    PaymentCanceledWebhookEvent,
    PaymentDeclinedWebhookEvent,
    PaymentExpiredWebhookEvent,
    PaymentRequest,
    PaymentSucceededWebhookEvent,
)

from tests.support.receiver import Receiver
from tests.support.tenant import Tenant

PAYER = "+14155552001"
PAYMENT_EVENTS: Any = [
    "payment.succeeded",
    "payment.canceled",
    "payment.expired",
    "payment.declined",
    "payment.authorized",
]


@pytest.fixture(autouse=True)
def forget_subscriptions(tenant: Tenant) -> Iterator[None]:
    yield
    for subscription in tenant.client.webhook_subscriptions.list().subscriptions:
        tenant.client.webhook_subscriptions.delete(subscription.id)


def _request(tenant: Tenant, **body: Any) -> PaymentRequest:
    defaults: dict[str, Any] = {"amount": 1250, "currency": "usd"}
    return tenant.client.payment_requests.create(**(defaults | body))


def _payer(
    tenant: Tenant, request: PaymentRequest, outcome: str = "pay", handle: str = PAYER
) -> httpx.Response:
    return tenant.http.post(
        f"/sim/v1/devices/{handle}/payments",
        json={"checkout_url": request.checkout_url, "outcome": outcome},
    )


def _error(raised: pytest.ExceptionInfo[linq.APIStatusError]) -> tuple[int, int]:
    body = raised.value.response.json()
    assert body["success"] is False
    assert body["error"]["doc_url"].startswith("https://docs.linqapp.com/error/codes/")
    assert body["trace_id"]
    return raised.value.status_code, body["error"]["code"]


def _refused(tenant: Tenant, **body: Any) -> tuple[int, int]:
    with pytest.raises(linq.APIStatusError) as raised:
        tenant.client.payment_requests.create(**body)
    return _error(raised)


def _subscribe(tenant: Tenant, receiver: Receiver) -> str:
    created = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=PAYMENT_EVENTS
    )
    return created.signing_secret


def _delivered(tenant: Tenant, receiver: Receiver, secret: str, event_type: str) -> Any:
    tenant.sim.advance(0)
    (hit,) = [h for h in receiver.hits if h.event["event_type"] == event_type]
    event = tenant.client.webhooks.unwrap(hit.body.decode(), headers=hit.headers, key=secret)
    assert event.event_type == event_type
    return hit.event


# -- create / retrieve / list ----------------------------------------------------------


def test_a_payment_request_is_created_retrieved_and_listed(tenant: Tenant) -> None:
    created = _request(
        tenant, description="Lunch", metadata={"chat_id": "c-1"}, customer_id="cus_Abc123"
    )
    assert (created.object, created.status, created.mode, created.rail) == (
        "payment_request",
        "requested",
        "payment",
        "stripe",
    )
    assert (created.amount, created.currency, created.description) == (1250, "usd", "Lunch")
    assert created.metadata == {"chat_id": "c-1"}
    assert created.stripe is not None
    assert created.stripe.customer_id == "cus_Abc123"
    assert created.expires_at == created.created_at + timedelta(hours=24)
    assert "/pay/" in created.checkout_url
    assert "session=" in created.checkout_url
    assert tenant.client.payment_requests.retrieve(created.id) == created
    page = tenant.client.payment_requests.list()
    assert (page.object, [r.id for r in page.data], page.has_more) == ("list", [created.id], False)


def test_the_list_is_newest_first_with_offset_pages_and_a_status_filter(tenant: Tenant) -> None:
    ids = [_request(tenant).id for _ in range(3)]
    first = tenant.client.payment_requests.list(limit=2)
    second = tenant.client.payment_requests.list(limit=2, offset=2)
    assert ([r.id for r in first.data], first.has_more) == ([ids[2], ids[1]], True)
    assert ([r.id for r in second.data], second.has_more) == ([ids[0]], False)
    tenant.client.payment_requests.cancel(ids[1])
    canceled = tenant.client.payment_requests.list(status="canceled")
    assert [r.id for r in canceled.data] == [ids[1]]
    assert [r.id for r in tenant.client.payment_requests.list(status="requested").data] == [
        ids[2],
        ids[0],
    ]


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"status": "x"}])
def test_bad_list_queries_are_400(tenant: Tenant, query: dict[str, Any]) -> None:
    response = tenant.http.get("/v3/payment_requests", params=query)
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_an_unknown_or_foreign_payment_request_is_404(tenant: Tenant, server: Any) -> None:
    from tests.support.tenant import tenant_on

    with tenant_on(server) as other:
        foreign = _request(other)
    for call in (tenant.client.payment_requests.retrieve, tenant.client.payment_requests.cancel):
        for request_id in ("pr_unknown", foreign.id):
            with pytest.raises(linq.NotFoundError) as missing:
                call(request_id)
            assert _error(missing)[0] == 404


def test_an_idempotency_key_answers_the_same_request_and_refuses_a_different_one(
    tenant: Tenant,
) -> None:
    first = _request(tenant, idempotency_key="order-7")
    again = _request(tenant, idempotency_key="order-7")
    assert again.id == first.id
    assert len(tenant.client.payment_requests.list().data) == 1
    assert _refused(tenant, amount=999, currency="usd", idempotency_key="order-7") == (409, 2015)


# -- the rules on a create body ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"currency": "usd"}, (400, 1001), id="amount-missing"),
        pytest.param({"amount": 100}, (400, 1001), id="currency-missing"),
        pytest.param({"amount": 49, "currency": "usd"}, (400, 1005), id="below-50-cents"),
        pytest.param({"amount": 100, "currency": "eur"}, (400, 1005), id="not-usd"),
        pytest.param(
            {"amount": 100, "currency": "usd", "price_id": "price_sim_monthly"},
            (400, 1005),
            id="price-in-payment-mode",
        ),
        pytest.param(
            {"amount": 100, "currency": "usd", "trial_period_days": 7},
            (400, 1005),
            id="trial-in-payment-mode",
        ),
        pytest.param(
            {"amount": 100, "currency": "usd", "customer_id": "someone"},
            (400, 1005),
            id="customer-id-format",
        ),
        pytest.param(
            {"amount": 100, "currency": "usd", "metadata": {f"k{i}": "v" for i in range(50)}},
            (400, 1005),
            id="50-metadata-keys",
        ),
        pytest.param(
            {"amount": 100, "currency": "usd", "metadata": {"linq_chat": "x"}},
            (400, 1005),
            id="reserved-metadata-key",
        ),
        pytest.param({"mode": "subscription"}, (400, 1001), id="subscription-without-price"),
        pytest.param(
            {"mode": "subscription", "price_id": "price_sim_monthly", "amount": 100},
            (400, 1005),
            id="subscription-with-amount",
        ),
        pytest.param(
            {"mode": "subscription", "price_id": "price_nope"}, (400, 1005), id="unknown-price"
        ),
        pytest.param(
            {"mode": "subscription", "price_id": "price_sim_archived"},
            (400, 1005),
            id="inactive-price",
        ),
        pytest.param(
            {"mode": "subscription", "price_id": "price_sim_one_time"},
            (400, 1005),
            id="one-time-price",
        ),
        pytest.param(
            {
                "mode": "subscription",
                "price_id": "price_sim_monthly",
                "discount": {"coupon": "SIM25", "promotion_code": "promo_sim_welcome"},
            },
            (400, 1005),
            id="coupon-and-promotion-code",
        ),
        pytest.param(
            {
                "mode": "subscription",
                "price_id": "price_sim_monthly",
                "discount": {"coupon": "NOPE"},
            },
            (400, 1005),
            id="unknown-coupon",
        ),
        pytest.param(
            {
                "mode": "subscription",
                "price_id": "price_sim_monthly",
                "trial_period_days": 7,
                "trial_end": datetime(2100, 1, 1, tzinfo=UTC),
            },
            (400, 1005),
            id="trial-days-and-end",
        ),
        pytest.param(
            {
                "mode": "subscription",
                "price_id": "price_sim_monthly",
                "trial_end": datetime(2000, 1, 1, tzinfo=UTC),
            },
            (400, 1005),
            id="trial-end-in-the-past",
        ),
        pytest.param(
            {"amount": 100, "currency": "usd", "rail": "natural", "payer_handle": PAYER},
            (400, 1001),
            id="natural-without-from",
        ),
        pytest.param(
            {"amount": 100, "currency": "usd", "payer_handle": PAYER},
            (400, 1005),
            id="payer-handle-on-stripe",
        ),
    ],
)
def test_create_rules(tenant: Tenant, body: dict[str, Any], expected: tuple[int, int]) -> None:
    assert _refused(tenant, **body) == expected
    assert tenant.client.payment_requests.list().data == []


def test_the_natural_rail_needs_a_line_of_yours_and_an_e164_payer(tenant: Tenant) -> None:
    base = {"amount": 100, "currency": "usd", "rail": "natural"}
    assert _refused(tenant, **base, from_=tenant.line, payer_handle="4155552001") == (400, 1002)
    assert _refused(tenant, **base, from_="+14155559999", payer_handle=PAYER) == (403, 2006)
    created = _request(tenant, rail="natural", from_=tenant.line, payer_handle=PAYER)
    assert created.rail == "natural"
    assert created.stripe is None
    assert created.natural is not None
    assert created.natural.payment_request_id
    assert created.natural.transaction_id is None


def test_subscription_amounts_come_from_the_price_quantity_discount_and_trial(
    tenant: Tenant,
) -> None:
    monthly = _request(
        tenant,
        mode="subscription",
        price_id="price_sim_monthly",
        quantity=2,
        amount=None,
        currency=None,
    )
    assert (monthly.amount, monthly.currency, monthly.interval, monthly.interval_count) == (
        3000,
        "usd",
        "month",
        1,
    )
    assert (monthly.price_id, monthly.quantity) == ("price_sim_monthly", 2)
    assert monthly.stripe is not None
    assert monthly.stripe.customer_id
    assert monthly.stripe.subscription_id
    promoted = tenant.client.payment_requests.create(
        mode="subscription",
        price_id="price_sim_quarterly",
        discount={"promotion_code": "promo_sim_welcome", "label": "Welcome"},
    )
    assert (promoted.amount, promoted.interval_count) == (3000, 3)
    assert promoted.discount is not None
    assert (promoted.discount.coupon, promoted.discount.label) == ("SIM25", "Welcome")
    trial = tenant.client.payment_requests.create(
        mode="subscription", price_id="price_sim_yearly", trial_period_days=14
    )
    assert trial.amount == 0
    assert trial.trial_end == trial.created_at + timedelta(days=14)


# -- the 403 until the account takes charges -----------------------------------------------


def test_an_account_without_charges_enabled_is_403_2011_until_the_operator_enables_it(
    tenant: Tenant,
) -> None:
    onboarding = tenant.http.get("/sim/v1/payments/onboarding").json()
    assert onboarding == {"stripe_charges_enabled": True, "natural_onboarded": True}
    tenant.http.put(
        "/sim/v1/payments/onboarding", json={"stripe_charges_enabled": False}
    ).raise_for_status()
    with pytest.raises(linq.PermissionDeniedError) as refused:
        _request(tenant)
    assert _error(refused) == (403, 2011)
    assert refused.value.response.headers["x-should-retry"] == "false"
    # Natural is a separate onboarding.
    natural = _request(tenant, rail="natural", from_=tenant.line, payer_handle=PAYER)
    tenant.http.put(
        "/sim/v1/payments/onboarding",
        json={"stripe_charges_enabled": True, "natural_onboarded": False},
    ).raise_for_status()
    assert _request(tenant).status == "requested"
    with pytest.raises(linq.PermissionDeniedError):
        _request(tenant, rail="natural", from_=tenant.line, payer_handle=PAYER)
    assert tenant.client.payment_requests.retrieve(natural.id).id == natural.id


# -- lifecycle and webhooks ------------------------------------------------------------


def test_a_phone_pays_and_payment_succeeded_arrives(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver)
    created = _request(tenant, metadata={"order": "42"})
    paid = _payer(tenant, created)
    assert paid.status_code == 200, paid.text
    now = tenant.client.payment_requests.retrieve(created.id)
    assert (now.status, now.paid_at is not None) == ("succeeded", True)
    assert now.stripe is not None
    assert now.stripe.payment_intent_id
    envelope = _delivered(tenant, receiver, secret, "payment.succeeded")
    event = PaymentSucceededWebhookEvent.model_validate(envelope)
    assert (event.data.id, event.data.status, event.data.amount) == (created.id, "succeeded", 1250)
    assert event.data.metadata == {"order": "42"}
    assert event.data.checkout_url == created.checkout_url
    # Paid is final: no second payment, no cancel.
    assert _payer(tenant, created).status_code == 409
    with pytest.raises(linq.ConflictError) as conflict:
        tenant.client.payment_requests.cancel(created.id)
    assert _error(conflict) == (409, 2015)


def test_a_declined_card_leaves_the_request_payable(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver)
    created = _request(tenant)
    assert _payer(tenant, created, "decline").status_code == 200
    assert tenant.client.payment_requests.retrieve(created.id).status == "requested"
    assert [r.id for r in tenant.client.payment_requests.list(status="declined").data] == [
        created.id
    ]
    event = PaymentDeclinedWebhookEvent.model_validate(
        _delivered(tenant, receiver, secret, "payment.declined")
    )
    assert (event.data.id, event.data.status) == (created.id, "failed")
    assert _payer(tenant, created).status_code == 200
    assert tenant.client.payment_requests.list(status="declined").data == []


def test_an_authorized_natural_payment_then_settles(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver)
    created = _request(tenant, rail="natural", from_=tenant.line, payer_handle=PAYER)
    assert _payer(tenant, created, handle="+14155552002").status_code == 403  # not the payer
    assert _payer(tenant, created, "authorize").status_code == 200
    assert [r.id for r in tenant.client.payment_requests.list(status="authorized").data] == [
        created.id
    ]
    envelope = _delivered(tenant, receiver, secret, "payment.authorized")
    assert envelope["data"]["status"] == "authorized"
    event = PaymentAuthorizedWebhookEvent.model_construct(**envelope)
    assert event.event_type == "payment.authorized"
    assert _payer(tenant, created).status_code == 200
    settled = tenant.client.payment_requests.retrieve(created.id)
    assert settled.natural is not None
    assert settled.natural.transaction_id


def test_a_canceled_request_cannot_be_paid(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver)
    created = _request(tenant)
    canceled = tenant.client.payment_requests.cancel(created.id)
    assert canceled.status == "canceled"
    event = PaymentCanceledWebhookEvent.model_validate(
        _delivered(tenant, receiver, secret, "payment.canceled")
    )
    assert (event.data.id, event.data.status) == (created.id, "canceled")
    assert _payer(tenant, created).status_code == 409
    with pytest.raises(linq.ConflictError):
        tenant.client.payment_requests.cancel(created.id)


def test_an_unpaid_request_expires_at_expires_at(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver)
    created = _request(tenant)
    paid = _request(tenant)
    _payer(tenant, paid).raise_for_status()
    tenant.sim.advance(24 * 3600 - 1)
    assert tenant.client.payment_requests.retrieve(created.id).status == "requested"
    tenant.sim.advance(1)
    assert tenant.client.payment_requests.retrieve(created.id).status == "expired"
    assert tenant.client.payment_requests.retrieve(paid.id).status == "succeeded"
    event = PaymentExpiredWebhookEvent.model_validate(
        _delivered(tenant, receiver, secret, "payment.expired")
    )
    assert (event.data.id, event.data.status) == (created.id, "expired")
    assert _payer(tenant, created).status_code == 409
    with pytest.raises(linq.ConflictError):
        tenant.client.payment_requests.cancel(created.id)


# -- the checkout page the link opens --------------------------------------------------------


def test_the_checkout_link_opens_a_page_where_the_payer_declines_then_pays(
    tenant: Tenant,
) -> None:
    created = _request(tenant, description="Lunch <for two>")
    with httpx.Client() as browser:  # no API key: the link is the credential
        page = browser.get(created.checkout_url)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "Lunch &lt;for two&gt;" in page.text
        assert "$12.50" in page.text
        declined = browser.post(created.checkout_url, data={"outcome": "decline"})
        assert "declined" in declined.text
        assert tenant.client.payment_requests.retrieve(created.id).status == "requested"
        paid = browser.post(created.checkout_url, data={"outcome": "pay"})
        assert "succeeded" in paid.text
        assert "<form" not in paid.text
        assert browser.post(created.checkout_url, data={"outcome": "pay"}).status_code == 409
        wrong = created.checkout_url.replace("session=", "session=x")
        assert browser.get(wrong).status_code == 404
        other_slug = created.checkout_url.replace("/pay/p", "/pay/q")
        assert browser.get(other_slug).status_code == 404
    assert tenant.client.payment_requests.retrieve(created.id).status == "succeeded"
    assert [e["event_type"] for e in tenant.sim.events() if e["event_type"].startswith("pay")] == [
        "payment.declined",
        "payment.succeeded",
    ]
