"""Experiences (§5.7): the catalogue, ``message.experience`` in sends and app-card updates,
and a simulated phone paying through an agentpay card."""

from __future__ import annotations

from typing import Any

import linq
import pytest

from tests.support.server import RunningServer
from tests.support.tenant import Tenant, magic, tenant_on

IPHONE = "+14155552001"
LINK: dict[str, Any] = {
    "name": "link",
    "action": "open",
    "params": {"url": "https://shop.example/o/1"},
}


def _chat(tenant: Tenant, *to: str) -> str:
    created = tenant.client.chats.create(
        from_=tenant.line,
        to=list(to or [IPHONE]),
        message={"parts": [{"type": "text", "value": "hi"}]},
    )
    return created.chat.id


def _send(tenant: Tenant, chat_id: str, experience: dict[str, Any], **message: Any) -> Any:
    content: Any = {"experience": experience, **message}
    return tenant.client.chats.messages.send(chat_id, message=content)


def _refused(tenant: Tenant, chat_id: str, experience: dict[str, Any], **message: Any) -> Any:
    with pytest.raises(linq.APIStatusError) as raised:
        _send(tenant, chat_id, experience, **message)
    body = raised.value.response.json()
    assert body["success"] is False
    return raised.value.status_code, body["error"]["code"]


def _pay_request(tenant: Tenant, **body: Any) -> Any:
    defaults: dict[str, Any] = {"amount": 1250, "currency": "usd", "description": "Lunch"}
    return tenant.client.payment_requests.create(**(defaults | body))


# -- the catalogue ---------------------------------------------------------------------


def test_the_catalogue_lists_every_experience_with_its_actions_and_fields(tenant: Tenant) -> None:
    listed = tenant.client.experiences.list().experiences or []
    actions = {(e.experience, a.name) for e in listed for a in e.actions or []}
    assert actions == {
        ("agentpay", "request_payment"),
        ("agentcard", "attach_card"),
        ("agentcard", "approve_card"),
        ("link", "open"),
    }
    agentpay = tenant.client.experiences.retrieve("agentpay")
    (request_payment,) = agentpay.actions or []
    fields = request_payment.fields or {}
    assert (fields["checkout_url"].type, fields["checkout_url"].required) == ("url", True)
    assert (fields["title"].type, fields["title"].required, fields["title"].max) == (
        "string",
        False,
        80,
    )
    with pytest.raises(linq.NotFoundError):
        tenant.client.experiences.retrieve("poll")


# -- sends -----------------------------------------------------------------------------


def test_a_link_card_is_sent_as_an_imessage_app_card(tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    sent = _send(tenant, chat_id, {**LINK, "params": {**LINK["params"], "title": "Your order"}})
    part: Any = sent.message.parts[0]
    assert (part.type, part.url, part.layout.caption, part.app.name) == (
        "imessage_app",
        "https://shop.example/o/1",
        "Your order",
        "Linq",
    )
    assert sent.message.service == "iMessage"
    tenant.sim.advance(0)
    assert tenant.client.messages.retrieve(sent.message.id).delivery_status == "delivered"


@pytest.mark.parametrize(
    ("experience", "expected"),
    [
        pytest.param({"name": "poll", "action": "create"}, (400, 1004), id="unknown-experience"),
        pytest.param({"name": "link", "action": "close"}, (400, 1004), id="unknown-action"),
        pytest.param(
            {**LINK, "params": {**LINK["params"], "colour": "red"}}, (400, 1004), id="unknown-param"
        ),
        pytest.param({"name": "link", "action": "open"}, (400, 1001), id="required-param"),
        pytest.param(
            {**LINK, "params": {"url": "http://shop.example/o/1"}}, (400, 1004), id="http-url"
        ),
        pytest.param({**LINK, "params": {"url": "/o/1"}}, (400, 1004), id="relative-url"),
        pytest.param(
            {**LINK, "params": {**LINK["params"], "title": "x" * 81}}, (400, 1004), id="too-long"
        ),
        pytest.param(
            {**LINK, "params": {**LINK["params"], "title": 7}}, (400, 1004), id="not-a-string"
        ),
        pytest.param(
            {
                "name": "agentpay",
                "action": "request_payment",
                "params": {"checkout_url": "https://a.example/pay/x?session=nope"},
            },
            (400, 1004),
            id="not-a-checkout-of-yours",
        ),
    ],
)
def test_experience_rules(
    tenant: Tenant, experience: dict[str, Any], expected: tuple[int, int]
) -> None:
    assert _refused(tenant, _chat(tenant), experience) == expected


def test_parts_and_an_experience_together_are_refused(tenant: Tenant) -> None:
    status = _refused(tenant, _chat(tenant), LINK, parts=[{"type": "text", "value": "x"}])
    assert status == (400, 1004)


def test_an_experience_goes_to_one_recipient(tenant: Tenant) -> None:
    group = _chat(tenant, IPHONE, "+14155552002")
    assert _refused(tenant, group, LINK) == (409, 2016)


def test_an_experience_is_imessage_only(tenant: Tenant) -> None:
    assert _refused(tenant, _chat(tenant), LINK, preferred_service="SMS") == (400, 2018)
    sent = _send(tenant, _chat(tenant, magic("02")), LINK)
    tenant.sim.advance(0)
    assert tenant.client.messages.retrieve(sent.message.id).delivery_status == "failed"
    assert tenant.sim.events("message.failed")[-1]["data"]["code"] == 4005


def test_messages_create_takes_an_experience_too(tenant: Tenant) -> None:
    message: Any = {"experience": LINK}
    sent = tenant.client.messages.create(to=[IPHONE], message=message)
    part: Any = sent.message.parts[0]
    assert (part.type, part.url) == ("imessage_app", "https://shop.example/o/1")
    with pytest.raises(linq.ConflictError) as group:
        tenant.client.messages.create(to=[IPHONE, "+14155552002"], message=message)
    assert group.value.code == 2016


# -- agentpay --------------------------------------------------------------------------


def test_an_agentpay_card_reads_its_amount_and_the_phone_pays_through_it(tenant: Tenant) -> None:
    request = _pay_request(tenant)
    chat_id = _chat(tenant)
    sent = _send(
        tenant,
        chat_id,
        {
            "name": "agentpay",
            "action": "request_payment",
            "params": {"checkout_url": request.checkout_url, "note": "Thanks!"},
        },
    )
    part: Any = sent.message.parts[0]
    assert (part.layout.caption, part.layout.subcaption, part.layout.trailing_caption) == (
        "Payment request",
        "Thanks!",
        "$12.50",
    )
    assert part.url == request.checkout_url
    tenant.sim.advance(0)
    paid = tenant.http.post(
        f"/sim/v1/devices/{IPHONE}/payments", json={"message_id": sent.message.id}
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "succeeded"
    assert tenant.client.payment_requests.retrieve(request.id).status == "succeeded"
    assert tenant.sim.events("payment.succeeded")[-1]["data"]["id"] == request.id
    # A paid request cannot be offered again.
    again = {
        "name": "agentpay",
        "action": "request_payment",
        "params": {"checkout_url": request.checkout_url},
    }
    assert _refused(tenant, chat_id, again) == (409, 2015)


def test_a_subscription_card_names_its_interval(tenant: Tenant) -> None:
    request = tenant.client.payment_requests.create(
        mode="subscription", price_id="price_sim_quarterly"
    )
    experience = {
        "name": "agentpay",
        "action": "request_payment",
        "params": {"checkout_url": request.checkout_url},
    }
    part: Any = _send(tenant, _chat(tenant), experience).message.parts[0]
    assert part.layout.trailing_caption == "$40.00 every 3 months"


def test_another_accounts_checkout_cannot_be_sent(tenant: Tenant, server: RunningServer) -> None:
    with tenant_on(server) as other:
        foreign = _pay_request(other)
    experience = {
        "name": "agentpay",
        "action": "request_payment",
        "params": {"checkout_url": foreign.checkout_url},
    }
    assert _refused(tenant, _chat(tenant), experience) == (400, 1004)


# -- app-card updates --------------------------------------------------------------------


def test_an_app_card_is_updated_into_an_experience_card(tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    sent = _send(tenant, chat_id, LINK)
    tenant.sim.advance(0)
    with pytest.raises(linq.BadRequestError) as both:
        tenant.client.messages.update_app_card(
            sent.message.id,
            layout={"caption": "x"},
            url="https://shop.example/o/2",
            experience={"name": "link", "action": "open", "params": {"url": "https://a.example"}},
        )
    assert both.value.code == 1004
    request = _pay_request(tenant)
    update = tenant.client.messages.update_app_card(
        sent.message.id,
        layout={"caption": "ignored: the experience composes the card"},
        experience={
            "name": "agentpay",
            "action": "request_payment",
            "params": {"checkout_url": request.checkout_url},
        },
    )
    assert update.message.id != sent.message.id
    part: Any = update.message.parts[0]
    assert (part.url, part.layout.trailing_caption) == (request.checkout_url, "$12.50")
