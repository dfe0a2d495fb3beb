"""No request commits and then fails; no stored row takes a read down (issue #10, item 1)."""

from __future__ import annotations

import copy
import logging
import uuid
from typing import Any

import linq
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openlinq.store import tables
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, fresh_line_number

APP = {"bundle_id": "com.example.app", "name": "Example", "team_id": "ABCDE12345"}


def _card(**fields: Any) -> Any:
    return {"type": "imessage_app", "app": APP, "layout": {"caption": "Hello"}, **fields}


def _chat(tenant: Tenant, to: str = "+14155557001") -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=[to], message={"parts": [{"type": "text", "value": "hi"}]}
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


# Every field of every part type a client can send, in a valid part, by path.
TEMPLATES: dict[str, tuple[dict[str, Any], tuple[tuple[str, ...], ...]]] = {
    "imessage_app": (
        _card(url="https://x.test/app", fallback_text="f", interactive=True),
        (
            ("app", "name"),
            ("app", "bundle_id"),
            ("app", "team_id"),
            ("app", "app_store_id"),
            *(("layout", f) for f in ("caption", "subcaption", "trailing_caption")),
            ("layout", "trailing_subcaption"),
            ("layout", "image_url"),
            ("layout", "image_title"),
            ("layout", "image_subtitle"),
            ("fallback_text",),
            ("url",),
            ("interactive",),
            ("app",),
            ("layout",),
        ),
    ),
    "text": (
        {
            "type": "text",
            "value": "hello",
            "text_decorations": [{"range": [0, 1], "style": "bold"}],
        },
        (("value",), ("text_decorations",), ("mention",), ("mention_range",), ("inline_stickers",)),
    ),
    "link": ({"type": "link", "value": "https://x.test/a"}, (("value",),)),
    "app_clip": (
        {"type": "app_clip", "value": "https://appclip.example/x", "caption": "c"},
        (("value",), ("caption",)),
    ),
    "media": ({"type": "media", "attachment_id": str(uuid.uuid4())}, (("sticker",),)),
}
hostile = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


WRONG_TYPES: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], ["x"], {}, {"x": 1}]
PATHS = [(kind, path) for kind, (_, paths) in sorted(TEMPLATES.items()) for path in paths]


def _with(kind: str, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    part = copy.deepcopy(TEMPLATES[kind][0])
    *parents, leaf = path
    target = part
    for key in parents:
        target = target[key]
    target[leaf] = value
    return part


@st.composite
def hostile_parts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid part of some type with one of its fields replaced by any JSON value."""
    kind, path = draw(st.sampled_from(PATHS))
    return _with(kind, path, draw(hostile))


def _send_and_read(tenant: Tenant, chat_id: str, part: dict[str, Any]) -> None:
    """A send is refused with a Linq 4xx and changes nothing, or it is accepted and it and
    every read of its chat render, under the SDK's strict validation."""
    before = len(tenant.client.chats.messages.list(chat_id, limit=100).messages)
    response = tenant.http.post(
        f"/v3/chats/{chat_id}/messages", json={"message": {"parts": [part]}}
    )
    assert response.status_code in (202, 400, 403, 404, 409), (part, response.text)
    stored = tenant.client.chats.messages.list(chat_id, limit=100).messages
    if response.status_code == 202:
        sent = response.json()["message"]["id"]
        assert stored[0].id == sent
        assert tenant.client.messages.retrieve(sent).id == sent
    else:
        assert set(response.json()["error"]) == {"status", "code", "message", "doc_url"}
        assert len(stored) == before


@pytest.mark.parametrize(("kind", "path"), PATHS, ids=[f"{k}:{'.'.join(p)}" for k, p in PATHS])
def test_every_field_of_every_part_type_with_a_wrong_type(
    tenant: Tenant, kind: str, path: tuple[str, ...]
) -> None:
    chat_id = _chat(tenant)
    for value in WRONG_TYPES:
        _send_and_read(tenant, chat_id, _with(kind, path, value))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(part=hostile_parts())
def test_no_part_of_any_shape_is_stored_and_then_fails_to_render(
    tenant: Tenant, part: dict[str, Any]
) -> None:
    _send_and_read(tenant, _chat(tenant, fresh_line_number()), part)


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
