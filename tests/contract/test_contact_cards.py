"""Contact cards: created once per line, patched, listed, shared into chats."""

from __future__ import annotations

import linq
import pytest

from tests.support.tenant import Tenant, magic


def test_create_read_patch(tenant: Tenant) -> None:
    card = tenant.client.contact_card.create(
        phone_number=tenant.line, first_name="Ada", last_name="Lovelace"
    )
    assert (card.first_name, card.last_name, card.phone_number, card.is_active) == (
        "Ada",
        "Lovelace",
        tenant.line,
        True,
    )
    patched = tenant.client.contact_card.update(phone_number=tenant.line, first_name="Augusta")
    assert (patched.first_name, patched.last_name) == ("Augusta", "Lovelace")
    listed = tenant.client.contact_card.retrieve().contact_cards
    assert [(c.phone_number, c.first_name) for c in listed] == [(tenant.line, "Augusta")]
    other_line = tenant.lines[1].phone_number
    assert tenant.client.contact_card.retrieve(phone_number=other_line).contact_cards == []
    kinds = [e["event_type"] for e in tenant.sim.events() if e["event_type"].startswith("contact")]
    assert kinds == ["contact_card.created", "contact_card.updated"]
    change = tenant.sim.events("contact_card.updated")[-1]["data"]["change"]
    assert change == {"first_name": {"from": "Ada", "to": "Augusta"}}


def test_a_line_has_one_card(tenant: Tenant) -> None:
    tenant.client.contact_card.create(phone_number=tenant.line, first_name="Ada")
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.contact_card.create(phone_number=tenant.line, first_name="Again")
    assert refused.value.code == 2014
    assert refused.value.response.headers["x-should-retry"] == "false"


def test_patch_without_a_card_and_foreign_lines(tenant: Tenant) -> None:
    with pytest.raises(linq.NotFoundError) as missing:
        tenant.client.contact_card.update(phone_number=tenant.line, first_name="X")
    assert missing.value.code == 2012
    with pytest.raises(linq.PermissionDeniedError) as foreign:
        tenant.client.contact_card.create(phone_number="+14155550999", first_name="X")
    assert foreign.value.code == 2006


def test_three_writes_per_ten_minutes_per_line(tenant: Tenant) -> None:
    tenant.client.contact_card.create(phone_number=tenant.line, first_name="A")
    tenant.client.contact_card.update(phone_number=tenant.line, first_name="B")
    tenant.client.contact_card.update(phone_number=tenant.line, first_name="C")
    with pytest.raises(linq.RateLimitError) as limited:
        tenant.client.contact_card.update(phone_number=tenant.line, first_name="D")
    assert limited.value.code == 1007
    assert limited.value.retry_after == 600
    tenant.sim.advance(600)
    tenant.client.contact_card.update(phone_number=tenant.line, first_name="D")


def test_sharing_a_card(tenant: Tenant) -> None:
    chat = tenant.client.chats.create(
        from_=tenant.line, to=[magic("04")], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    with pytest.raises(linq.NotFoundError) as no_card:
        tenant.client.chats.share_contact_card(chat.chat.id)
    assert no_card.value.code == 2012
    tenant.client.contact_card.create(phone_number=tenant.line, first_name="Ada")
    tenant.client.chats.share_contact_card(chat.chat.id)
    tenant.sim.advance(0)
    screen = tenant.http.get(f"/sim/v1/devices/{magic('04')}/screen").json()
    assert [c["first_name"] for c in screen["contact_cards"]] == ["Ada"]
    with pytest.raises(linq.RateLimitError) as limited:
        tenant.client.chats.share_contact_card(chat.chat.id)
    assert limited.value.retry_after == 300
    tenant.sim.advance(300)
    tenant.client.chats.share_contact_card(chat.chat.id)


def test_cards_are_shared_over_imessage_only(tenant: Tenant) -> None:
    tenant.client.contact_card.create(phone_number=tenant.line, first_name="Ada")
    chat = tenant.client.chats.create(
        from_=tenant.line, to=[magic("01")], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.chats.share_contact_card(chat.chat.id)
    assert refused.value.code == 2017
