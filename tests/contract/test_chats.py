"""POST/GET/PUT /v3/chats and mark-read, driven through the official SDK over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import linq
import pytest
from linq.types.chat_create_response import ChatCreateResponse

from tests.support.server import RunningServer
from tests.support.tenant import Tenant, tenant_on

A, B, C = "+14155552001", "+14155552002", "+14155552003"
EMAIL = "someone@example.com"
TEXT: Any = {"parts": [{"type": "text", "value": "hello"}]}


def _text(value: str) -> Any:
    return {"parts": [{"type": "text", "value": value}]}


def _create(
    tenant: Tenant, *to: str, line: str | None = None, message: Any = TEXT
) -> ChatCreateResponse:
    return tenant.client.chats.create(from_=line or tenant.line, to=list(to), message=message)


def _refused(
    error: type[linq.APIStatusError], status: int, code: int, call: Callable[[], object]
) -> linq.APIStatusError:
    with pytest.raises(error) as refused:
        call()
    assert (refused.value.status_code, refused.value.code) == (status, code)
    return refused.value


def _flag(tenant: Tenant, line: str) -> None:
    response = tenant.http.put(f"/sim/v1/lines/{line}", json={"status": "FLAGGED"})
    assert response.status_code == 200, response.text


def _created_ids(tenant: Tenant) -> list[str]:
    return [e["data"]["id"] for e in tenant.sim.events("chat.created")]


@pytest.fixture
def other(server: RunningServer) -> Iterator[Tenant]:
    """A second account on the same server."""
    with tenant_on(server) as created:
        yield created


# -- POST /v3/chats: creation ---------------------------------------------------------


def test_creating_a_direct_chat_returns_201_with_both_handles_and_a_queued_message(
    tenant: Tenant,
) -> None:
    raw = tenant.client.chats.with_raw_response.create(from_=tenant.line, to=[A], message=TEXT)
    assert raw.status_code == 201
    chat = raw.parse().chat
    assert chat.is_group is False
    assert chat.service == "iMessage"
    assert chat.health_status.status == "HEALTHY"
    assert [(h.handle, h.is_me, h.service) for h in chat.handles] == [
        (tenant.line, True, "iMessage"),
        (A, False, "iMessage"),
    ]
    assert chat.display_name == A
    assert chat.message.delivery_status == "queued"
    assert [p.value for p in chat.message.parts] == ["hello"]  # type: ignore[union-attr]


def test_creating_a_group_lists_every_recipient(tenant: Tenant) -> None:
    chat = _create(tenant, A, B, C).chat
    assert chat.is_group is True
    assert [(h.handle, bool(h.is_me)) for h in chat.handles] == [
        (tenant.line, True),
        (A, False),
        (B, False),
        (C, False),
    ]
    assert chat.display_name == f"{A}, {B}, {C}"
    assert chat.service == "iMessage"
    assert chat.message.delivery_status == "queued"


def test_an_email_recipient_is_accepted_over_imessage(tenant: Tenant) -> None:
    chat = _create(tenant, EMAIL).chat
    assert [h.handle for h in chat.handles if not h.is_me] == [EMAIL]
    assert chat.service == "iMessage"


# -- POST /v3/chats: reuse ------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ((A,), (A,)),
        ((A,), (A, A)),  # duplicates are ignored: still the direct chat
        ((A, B, C), (C, A, B)),  # order-independent
        ((A, B), (B, A, B, A)),
    ],
)
def test_the_same_line_and_recipient_set_reuse_the_chat_and_send_into_it(
    tenant: Tenant, first: tuple[str, ...], again: tuple[str, ...]
) -> None:
    created = _create(tenant, *first).chat
    reused = _create(tenant, *again, message=_text("second")).chat
    assert reused.id == created.id
    assert reused.message.id != created.message.id
    listed = tenant.client.chats.messages.list(created.id).messages
    assert {m.id for m in listed} == {created.message.id, reused.message.id}
    assert _created_ids(tenant) == [created.id]  # chat.created once, not for the reuse


def test_another_line_gets_its_own_chat(tenant: Tenant) -> None:
    first = _create(tenant, A).chat
    second = _create(tenant, A, line=tenant.lines[1].phone_number).chat
    assert second.id != first.id
    assert [h.handle for h in second.handles if h.is_me] == [tenant.lines[1].phone_number]
    assert _created_ids(tenant) == [first.id, second.id]


def test_a_named_group_is_left_out_of_reuse(tenant: Tenant) -> None:
    named = _create(tenant, A, B).chat.id
    tenant.client.chats.update(named, display_name="Team")
    parallel = _create(tenant, A, B).chat.id
    assert parallel != named
    assert _create(tenant, B, A).chat.id == parallel  # the unnamed twin is reused
    assert len(tenant.client.chats.messages.list(named).messages) == 1


# -- POST /v3/chats: first-message rules -----------------------------------------------

FIRST_MESSAGE_REFUSALS: list[Any] = [
    pytest.param(
        lambda _: {"parts": [{"type": "link", "value": "https://example.com"}]}, id="link"
    ),
    pytest.param(lambda _: _text("see example.com"), id="bare-domain"),
    pytest.param(lambda _: _text("https://x.y"), id="url"),
    pytest.param(
        lambda _: {**_text("hi"), "effect": {"type": "screen", "name": "confetti"}}, id="effect"
    ),
    pytest.param(lambda replied: {**_text("re"), "reply_to": {"message_id": replied}}, id="reply"),
]


@pytest.mark.parametrize("build", FIRST_MESSAGE_REFUSALS)
def test_the_first_message_of_a_new_chat_is_refused(
    tenant: Tenant, build: Callable[[str], Any]
) -> None:
    existing = _create(tenant, A).chat
    _refused(
        linq.BadRequestError,
        400,
        1005,
        lambda: _create(tenant, B, message=build(existing.message.id)),
    )
    assert tenant.client.chats.list_chats(to=B).chats == []  # nothing was created
    assert _created_ids(tenant) == [existing.id]


@pytest.mark.parametrize("build", FIRST_MESSAGE_REFUSALS)
def test_the_same_content_into_an_existing_chat_is_allowed(
    tenant: Tenant, build: Callable[[str], Any]
) -> None:
    existing = _create(tenant, A).chat
    again = _create(tenant, A, message=build(existing.message.id)).chat
    assert again.id == existing.id
    assert again.message.delivery_status == "queued"


# -- POST /v3/chats: from / to validation ---------------------------------------------


def test_at_most_31_recipients(tenant: Tenant) -> None:
    many = [f"+1415555{3000 + n}" for n in range(32)]
    _refused(linq.BadRequestError, 400, 1005, lambda: _create(tenant, *many))
    assert len(_create(tenant, *many[:31]).chat.handles) == 32


@pytest.mark.parametrize("path", ["/v3/chats", "/v3/messages"])
def test_an_oversized_to_list_is_refused_before_its_handles_are_parsed(
    tenant: Tenant, path: str
) -> None:
    # The first handle is not a phone number: the size is refused before it is looked at.
    to = ["not-a-handle", *(f"+1415555{3000 + n}" for n in range(39))]
    response = tenant.http.post(path, json={"from": tenant.line, "to": to, "message": TEXT})
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, 1005), response.text
    assert "31" in error["message"]


def test_to_cannot_contain_the_from_line(tenant: Tenant) -> None:
    _refused(linq.BadRequestError, 400, 1005, lambda: _create(tenant, A, tenant.line))


@pytest.mark.parametrize("foreign", ["unassigned", "other-account"])
def test_from_must_be_one_of_your_lines(tenant: Tenant, other: Tenant, foreign: str) -> None:
    line = "+14155550999" if foreign == "unassigned" else other.line
    _refused(linq.PermissionDeniedError, 403, 2006, lambda: _create(tenant, A, line=line))
    assert other.client.chats.list_chats().chats == []


@pytest.mark.parametrize(
    ("from_", "to"),
    [
        ("4155551234", A),
        ("+1 415 555 1234", A),
        (None, "415-555-2001"),
        (None, "(415) 555-2001"),
        (None, "14155552001"),
    ],
)
def test_handles_must_be_e164(tenant: Tenant, from_: str | None, to: str) -> None:
    _refused(linq.BadRequestError, 400, 1002, lambda: _create(tenant, to, line=from_))


def test_an_empty_recipient_list_is_refused(tenant: Tenant) -> None:
    # The wire model requires at least one handle; the server answers 1005 for it.
    _refused(linq.BadRequestError, 400, 1005, lambda: _create(tenant))


# -- GET /v3/chats/{id} -----------------------------------------------------------------


def test_reading_a_chat(tenant: Tenant) -> None:
    created = _create(tenant, A, B).chat
    chat = tenant.client.chats.retrieve(created.id)
    assert chat.id == created.id
    assert chat.is_archived is False
    assert chat.is_group is True
    assert chat.display_name == f"{A}, {B}"
    assert chat.group_chat_icon is None
    assert chat.service == "iMessage"
    assert chat.health_status.status == "HEALTHY"
    assert [(h.id, h.handle) for h in chat.handles] == [(h.id, h.handle) for h in created.handles]
    assert chat.created_at <= chat.updated_at


@pytest.mark.parametrize("chat_id", ["00000000-0000-4000-8000-000000000000", "not-a-chat"])
def test_an_unknown_chat_is_404(tenant: Tenant, chat_id: str) -> None:
    _refused(linq.NotFoundError, 404, 2001, lambda: tenant.client.chats.retrieve(chat_id))


def test_another_accounts_chat_is_404(tenant: Tenant, other: Tenant) -> None:
    theirs = _create(other, A).chat.id
    calls: list[Callable[[], object]] = [
        lambda: tenant.client.chats.retrieve(theirs),
        lambda: tenant.client.chats.messages.send(theirs, message=TEXT),
        lambda: tenant.client.chats.mark_as_read(theirs),
    ]
    for call in calls:
        _refused(linq.NotFoundError, 404, 2001, call)
    assert other.client.chats.retrieve(theirs).id == theirs


# -- GET /v3/chats ---------------------------------------------------------------------


def test_listing_puts_the_newest_activity_first(tenant: Tenant) -> None:
    made = []
    for to in (A, B, C):
        made.append(_create(tenant, to).chat.id)
        tenant.sim.advance(1)
    assert [c.id for c in tenant.client.chats.list_chats().chats] == made[::-1]
    tenant.client.chats.messages.send(made[0], message=TEXT)
    tenant.sim.advance(1)
    assert [c.id for c in tenant.client.chats.list_chats().chats] == [made[0], made[2], made[1]]
    tenant.sim.send(B, to=tenant.line, text="inbound counts too")
    assert [c.id for c in tenant.client.chats.list_chats().chats] == [made[1], made[0], made[2]]


def test_limit_defaults_to_20_and_allows_100(tenant: Tenant) -> None:
    made = {_create(tenant, f"+1415555{4000 + n}").chat.id for n in range(21)}
    default = tenant.client.chats.list_chats()
    assert len(default.chats) == 20
    assert default.next_cursor
    everything = tenant.client.chats.list_chats(limit=100)
    assert {c.id for c in everything.chats} == made
    assert not everything.next_cursor


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_limit_out_of_range_is_refused(tenant: Tenant, limit: int) -> None:
    _refused(linq.BadRequestError, 400, 1005, lambda: tenant.client.chats.list_chats(limit=limit))


def test_cursor_paging_returns_every_chat_exactly_once(tenant: Tenant) -> None:
    # Created at one instant: the cursor must still separate chats with equal activity times.
    made = [_create(tenant, f"+1415555{5000 + n}").chat.id for n in range(5)]
    automatic = [c.id for c in tenant.client.chats.list_chats(limit=2)]
    assert automatic == made[::-1]
    manual: list[str] = []
    pages: list[int] = []
    cursor: str | None = None
    while True:
        page = (
            tenant.client.chats.list_chats(limit=2, cursor=cursor)
            if cursor
            else tenant.client.chats.list_chats(limit=2)
        )
        manual += [c.id for c in page.chats]
        pages.append(len(page.chats))
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert manual == made[::-1]
    assert pages == [2, 2, 1]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "MjAyNi0wMS0wMQ", "20"])
def test_a_bad_cursor_is_refused(tenant: Tenant, cursor: str) -> None:
    _create(tenant, A)
    _refused(linq.BadRequestError, 400, 1005, lambda: tenant.client.chats.list_chats(cursor=cursor))


def test_listing_filters_by_line_and_by_participant(tenant: Tenant) -> None:
    second = tenant.lines[1].phone_number
    direct_a = _create(tenant, A).chat.id
    group_ab = _create(tenant, A, B).chat.id
    on_second = _create(tenant, B, line=second).chat.id

    def ids(**filters: str) -> set[str]:
        return {c.id for c in tenant.client.chats.list_chats(**filters)}  # type: ignore[arg-type]

    assert ids(from_=tenant.line) == {direct_a, group_ab}
    assert ids(from_=second) == {on_second}
    assert ids(to=A) == {direct_a, group_ab}
    assert ids(to=B) == {group_ab, on_second}
    assert ids(to=C) == set()
    assert ids(from_=second, to=B) == {on_second}
    assert ids(to=tenant.line) == set()  # your own line is not a participant filter match


# -- PUT /v3/chats/{id} ----------------------------------------------------------------


def test_renaming_a_group(tenant: Tenant) -> None:
    chat_id = _create(tenant, A, B).chat.id
    raw = tenant.client.chats.with_raw_response.update(chat_id, display_name="Team")
    assert raw.status_code == 202
    reply = raw.parse()
    assert (reply.chat_id, reply.status) == (chat_id, "accepted")
    assert tenant.client.chats.retrieve(chat_id).display_name == "Team"
    tenant.client.chats.update(chat_id, display_name="Crew")
    assert tenant.client.chats.retrieve(chat_id).display_name == "Crew"
    events = [e["data"] for e in tenant.sim.events("chat.group_name_updated")]
    assert [(d["chat_id"], d["old_value"], d["new_value"]) for d in events] == [
        (chat_id, None, "Team"),
        (chat_id, "Team", "Crew"),
    ]
    assert events[0]["changed_by_handle"]["handle"] == tenant.line


def test_renaming_a_direct_chat_is_a_final_409(tenant: Tenant) -> None:
    chat_id = _create(tenant, A).chat.id
    refused = _refused(
        linq.ConflictError,
        409,
        1006,
        lambda: tenant.client.chats.update(chat_id, display_name="Nope"),
    )
    assert refused.response.headers["x-should-retry"] == "false"
    assert tenant.client.chats.retrieve(chat_id).display_name == A
    assert tenant.sim.events("chat.group_name_updated") == []


def test_an_update_without_fields_is_refused(tenant: Tenant) -> None:
    chat_id = _create(tenant, A, B).chat.id
    _refused(linq.BadRequestError, 400, 1001, lambda: tenant.client.chats.update(chat_id))
    response = tenant.http.put(f"/v3/chats/{chat_id}", json={})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 1001
    assert tenant.client.chats.retrieve(chat_id).display_name == f"{A}, {B}"


# -- POST /v3/chats/{id}/read ----------------------------------------------------------


def test_marking_a_chat_read_reads_its_inbound_messages_only(tenant: Tenant) -> None:
    chat_id = _create(tenant, A).chat.id
    _create(tenant, B)
    mine = tenant.sim.send(A, to=tenant.line, text="one")["message_id"]
    theirs = tenant.sim.send(B, to=tenant.line, text="two")["message_id"]
    assert tenant.client.messages.retrieve(mine).is_read is False
    raw = tenant.client.chats.with_raw_response.mark_as_read(chat_id)
    assert raw.status_code == 204
    assert raw.parse() is None
    assert tenant.client.messages.retrieve(mine).is_read is True
    assert tenant.client.messages.retrieve(theirs).is_read is False


def test_mark_read_through_the_sdk_and_with_an_empty_json_body(tenant: Tenant) -> None:
    chat_id = _create(tenant, A).chat.id
    first = tenant.sim.send(A, to=tenant.line, text="one")["message_id"]
    tenant.client.chats.mark_as_read(chat_id)
    second = tenant.sim.send(A, to=tenant.line, text="two")["message_id"]
    response = tenant.http.post(f"/v3/chats/{chat_id}/read", json={})
    assert (response.status_code, response.content) == (204, b"")
    assert [tenant.client.messages.retrieve(m).is_read for m in (first, second)] == [True, True]


# -- a flagged (ineligible) line -------------------------------------------------------


def test_a_flagged_line_refuses_new_activity_but_still_reads(tenant: Tenant) -> None:
    chat = _create(tenant, A, B).chat
    inbound = tenant.sim.send(A, chat_id=chat.id, text="before the flag")["message_id"]
    _flag(tenant, tenant.line)
    new_activity: list[Callable[[], object]] = [
        lambda: _create(tenant, C),  # a new chat
        lambda: _create(tenant, A, B),  # the existing chat through POST /v3/chats
        lambda: tenant.client.chats.messages.send(chat.id, message=TEXT),
        lambda: tenant.client.chats.update(chat.id, display_name="Team"),
        lambda: tenant.client.chats.mark_as_read(chat.id),
    ]
    for call in new_activity:
        _refused(linq.PermissionDeniedError, 403, 2027, call)
    assert tenant.client.chats.retrieve(chat.id).display_name == f"{A}, {B}"
    assert [c.id for c in tenant.client.chats.list_chats(from_=tenant.line)] == [chat.id]
    assert {m.id for m in tenant.client.chats.messages.list(chat.id).messages} == {
        chat.message.id,
        inbound,
    }
    assert tenant.client.messages.retrieve(inbound).is_read is False
    # The other line is unaffected.
    assert _create(tenant, C, line=tenant.lines[1].phone_number).chat.id
