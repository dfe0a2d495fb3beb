"""iMessage app cards and App Clip cards: rules, service, and updating a card."""

from __future__ import annotations

from typing import Any

import linq
import pytest

from tests.support.tenant import Tenant, magic

APP = {"bundle_id": "com.example.app", "name": "Example", "team_id": "ABCDE12345"}


def card(**layout: Any) -> Any:
    return {"type": "imessage_app", "app": APP, "layout": layout or {"caption": "Hello"}}


def _chat(tenant: Tenant, to: str = "+14155557001") -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=[to], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    return created.chat.id


def test_a_card_is_sent_and_updated_as_a_new_message(tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    sent = tenant.client.chats.messages.send(
        chat_id, message={"parts": [card(caption="Order placed", image_url="https://x.test/a.png")]}
    )
    part: Any = sent.message.parts[0]
    assert (part.type, part.app.team_id, part.layout.caption, part.fallback_text) == (
        "imessage_app",
        "ABCDE12345",
        "Order placed",
        "Order placed",
    )
    with pytest.raises(linq.ConflictError) as not_yet:
        tenant.client.messages.update_app_card(sent.message.id, layout={"caption": "Shipped"})
    assert not_yet.value.code == 2015
    assert not_yet.value.response.headers["x-should-retry"] == "true"
    tenant.sim.advance(0)
    update = tenant.client.messages.update_app_card(sent.message.id, layout={"caption": "Shipped"})
    assert update.chat_id == chat_id
    assert update.message.id != sent.message.id
    updated: Any = update.message.parts[0]
    assert (updated.layout.caption, updated.app.bundle_id) == ("Shipped", "com.example.app")


@pytest.mark.parametrize(
    "bad",
    [
        {"layout": {}},
        {"layout": {"image_title": "t"}},
        {"layout": {"caption": "c", "image_url": "https://x.test/a.gif"}},
        {"app": {**APP, "team_id": "short"}},
        {"app": {**APP, "bundle_id": "a:b"}},
        {"url": "http://x.test/not-https"},
    ],
)
def test_card_rules(tenant: Tenant, bad: dict[str, Any]) -> None:
    chat_id = _chat(tenant)
    part: Any = {**card(), **bad}
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.messages.send(chat_id, message={"parts": [part]})
    assert refused.value.code == 1004


def test_cards_must_be_alone(tenant: Tenant) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.messages.send(
            _chat(tenant), message={"parts": [{"type": "text", "value": "x"}, card()]}
        )
    assert refused.value.code == 1004


@pytest.mark.parametrize(
    ("part", "code"),
    [(card(), 2018), ({"type": "app_clip", "value": "https://appclip.example/pay"}, 2028)],
)
def test_cards_are_never_sent_over_sms_or_rcs(tenant: Tenant, part: Any, code: int) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.messages.send(
            _chat(tenant), message={"parts": [part], "preferred_service": "SMS"}
        )
    assert refused.value.code == code


def test_a_card_to_a_phone_without_imessage_fails(tenant: Tenant) -> None:
    chat_id = _chat(tenant, magic("02"))
    sent = tenant.client.chats.messages.send(chat_id, message={"parts": [card()]})
    assert sent.message.service == "iMessage"
    tenant.sim.advance(0)
    assert tenant.client.messages.retrieve(sent.message.id).delivery_status == "failed"
    assert tenant.sim.events("message.failed")[-1]["data"]["code"] == 4005


def test_an_app_clip_card(tenant: Tenant) -> None:
    sent = tenant.client.chats.messages.send(
        _chat(tenant),
        message={
            "parts": [
                {"type": "app_clip", "value": "https://appclip.example/pay", "caption": "Pay"}
            ]
        },
    )
    part: Any = sent.message.parts[0]
    assert (part.type, part.value) == ("app_clip", "https://appclip.example/pay")


def test_only_your_cards_can_be_updated(tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    text = tenant.client.chats.messages.send(
        chat_id, message={"parts": [{"type": "text", "value": "t"}]}
    )
    tenant.sim.advance(0)
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.messages.update_app_card(text.message.id, layout={"caption": "x"})
    assert refused.value.code == 1005
