"""No request commits and then fails; no stored row takes a read down (issue #10, item 1)."""

from __future__ import annotations

import logging
from typing import Any

import linq
import pytest
import sqlalchemy as sa

from openlinq.store import tables
from tests.support.server import RunningServer
from tests.support.tenant import Tenant

APP = {"bundle_id": "com.example.app", "name": "Example", "team_id": "ABCDE12345"}


def _card(**fields: Any) -> Any:
    return {"type": "imessage_app", "app": APP, "layout": {"caption": "Hello"}, **fields}


def _chat(tenant: Tenant) -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=["+14155557001"], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    return created.chat.id


@pytest.mark.parametrize(
    "fields",
    [
        {"app": {**APP, "app_store_id": "abc"}},
        {"app": {**APP, "app_store_id": 1.5}},
        {"app": {**APP, "app_store_id": True}},
        {"app": {**APP, "name": 5}},
        {"app": {**APP, "bundle_id": ["com.x"]}},
        {"app": {**APP, "team_id": 1234567890}},
        {"layout": {"caption": {}}},
        {"layout": {"caption": "c", "subcaption": 7}},
        {"layout": {"caption": "c", "trailing_caption": ["x"]}},
        {"layout": {"image_url": "https://x.test/a.png", "image_title": False}},
        {"fallback_text": {"x": 1}},
        {"url": 5},
        {"interactive": "sometimes"},
    ],
)
def test_a_card_field_of_the_wrong_type_is_refused_and_nothing_is_stored(
    tenant: Tenant, fields: dict[str, Any]
) -> None:
    chat_id = _chat(tenant)
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.messages.send(chat_id, message={"parts": [_card(**fields)]})
    assert refused.value.code == 1004
    assert len(tenant.client.chats.messages.list(chat_id).messages) == 1


@pytest.mark.parametrize(
    "fields",
    [{"caption": {}}, {"caption": "c", "image_title": 5}],
)
def test_a_card_update_of_the_wrong_type_is_refused(tenant: Tenant, fields: dict[str, Any]) -> None:
    sent = tenant.client.chats.messages.send(_chat(tenant), message={"parts": [_card()]})
    tenant.sim.advance(0)
    response = tenant.http.post(f"/v3/messages/{sent.message.id}/update", json={"layout": fields})
    assert (response.status_code, response.json()["error"]["code"]) == (400, 1005)


def test_a_valid_app_store_id_round_trips(tenant: Tenant) -> None:
    sent = tenant.client.chats.messages.send(
        _chat(tenant), message={"parts": [_card(app={**APP, "app_store_id": 1234567890})]}
    )
    part: Any = sent.message.parts[0]
    assert part.app.app_store_id == 1234567890


def _overwrite(server: RunningServer, message_id: str, values: dict[str, Any]) -> None:
    """Write a row the API would never write, straight into the database."""

    async def write() -> None:
        async with server.services.storage.write() as repos:
            await repos.conn.execute(
                sa.update(tables.messages)
                .where(tables.messages.c.id == message_id)
                .values(**values)
            )

    server.call(write)


MALFORMED = [
    pytest.param([{**_card(), "app": {**APP, "app_store_id": "abc"}}], id="app_store_id-text"),
    pytest.param([{**_card(), "layout": {"caption": {}}}], id="caption-object"),
    pytest.param([{"type": "media", "filename": "a.png"}], id="media-without-id"),
    pytest.param([{"value": "no type"}], id="no-type"),
    pytest.param(["not an object"], id="not-an-object"),
    pytest.param([{"type": "hologram"}], id="unknown-type"),
    pytest.param({"type": "text"}, id="parts-not-a-list"),
    pytest.param(5, id="parts-a-number"),
]


@pytest.mark.parametrize("parts", MALFORMED)
def test_a_stored_part_that_cannot_be_rendered_does_not_take_reads_down(
    server: RunningServer,
    tenant: Tenant,
    parts: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat_id = _chat(tenant)
    bad = tenant.client.chats.messages.send(
        chat_id, message={"parts": [{"type": "text", "value": "will be broken"}]}
    )
    later = tenant.client.chats.messages.send(
        chat_id, message={"parts": [{"type": "text", "value": "fine"}]}
    )
    _overwrite(server, bad.message.id, {"parts": parts, "effect": {"bogus": True}})
    with caplog.at_level(logging.WARNING):
        listed = tenant.client.chats.messages.list(chat_id).messages
        single = tenant.client.messages.retrieve(bad.message.id)
        thread = tenant.client.messages.list_messages_thread(bad.message.id).messages
        chats = tenant.client.chats.list_chats().chats
    assert [m.id for m in listed][:2] == [later.message.id, bad.message.id]
    assert [(p.type, getattr(p, "value", None)) for p in single.parts or []] == [("text", "")]
    assert single.effect is None
    assert thread[0].id == bad.message.id
    assert chat_id in [c.id for c in chats]
    assert any(bad.message.id in r.getMessage() for r in caplog.records)


def test_a_chat_that_cannot_be_rendered_does_not_take_the_chat_list_down(
    server: RunningServer, tenant: Tenant, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL's typed columns cannot hold bytes as a display name")
    broken = _chat(tenant)
    fine = tenant.client.chats.create(
        from_=tenant.line, to=["+14155557002"], message={"parts": [{"type": "text", "value": "x"}]}
    ).chat.id

    async def write() -> None:
        async with server.services.storage.write() as repos:
            await repos.conn.execute(
                sa.update(tables.chats)
                .where(tables.chats.c.id == broken)
                .values(display_name=b"\xff\xfe")
            )

    server.call(write)
    with caplog.at_level(logging.WARNING):
        listed = [c.id for c in tenant.client.chats.list_chats().chats]
    assert listed == [fine]
    assert any(broken in r.getMessage() for r in caplog.records)
