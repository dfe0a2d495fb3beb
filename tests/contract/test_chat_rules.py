"""Chat creation, reuse, first-message rules, listing, and POST /v3/messages line selection."""

from __future__ import annotations

from typing import Any

import linq
import pytest

from tests.support.tenant import Tenant

TEXT: Any = {"parts": [{"type": "text", "value": "hello"}]}


def _create(tenant: Tenant, *to: str, line: str | None = None, message: Any = TEXT) -> Any:
    return tenant.client.chats.create(from_=line or tenant.line, to=list(to), message=message)


def test_a_direct_chat_and_a_group(tenant: Tenant) -> None:
    direct = _create(tenant, "+14155559001").chat
    assert (direct.is_group, direct.service, direct.health_status.status) == (
        False,
        "iMessage",
        "HEALTHY",
    )
    assert [(h.handle, h.is_me) for h in direct.handles] == [
        (tenant.line, True),
        ("+14155559001", False),
    ]
    assert direct.message.delivery_status == "queued"
    group = _create(tenant, "+14155559002", "+14155559003").chat
    assert group.is_group is True
    assert group.display_name == "+14155559002, +14155559003"


def test_the_same_line_and_recipient_set_reuse_the_chat(tenant: Tenant) -> None:
    first = _create(tenant, "+14155559004", "+14155559005").chat.id
    again = _create(tenant, "+14155559005", "+14155559004", "+14155559005").chat.id
    other_line = _create(tenant, "+14155559004", "+14155559005", line=tenant.lines[1].phone_number)
    assert again == first
    assert other_line.chat.id != first
    assert len(tenant.client.chats.messages.list(first).messages) == 2
    assert len(tenant.sim.events("chat.created")) == 2


def test_a_named_group_is_not_reused(tenant: Tenant) -> None:
    first = _create(tenant, "+14155559006", "+14155559007").chat.id
    tenant.client.chats.update(first, display_name="Team")
    assert tenant.client.chats.retrieve(first).display_name == "Team"
    assert _create(tenant, "+14155559006", "+14155559007").chat.id != first


@pytest.mark.parametrize(
    "message",
    [
        {"parts": [{"type": "link", "value": "https://example.com"}]},
        {"parts": [{"type": "text", "value": "see example.com"}]},
        {"parts": [{"type": "text", "value": "see https://x.test/a"}]},
        {"parts": [{"type": "text", "value": "hi"}], "effect": {"name": "confetti"}},
    ],
)
def test_the_first_message_of_a_new_chat_has_no_link_or_effect(
    tenant: Tenant, message: Any
) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        _create(tenant, "+14155559010", message=message)
    assert refused.value.code == 1005
    _create(tenant, "+14155559010")
    _create(tenant, "+14155559010", message=message)  # an existing chat takes it


def test_from_and_to_rules(tenant: Tenant) -> None:
    cases: list[tuple[Any, type[linq.APIStatusError], int]] = [
        (
            lambda: _create(tenant, "+14155559011", line="+14155550999"),
            linq.PermissionDeniedError,
            2006,
        ),
        (lambda: _create(tenant, "415-555-9011"), linq.BadRequestError, 1002),
        (lambda: _create(tenant, tenant.line), linq.BadRequestError, 1005),
        (
            lambda: _create(tenant, *[f"+1415555{9100 + n}" for n in range(32)]),
            linq.BadRequestError,
            1005,
        ),
    ]
    for attempt, error, code in cases:
        with pytest.raises(error) as refused:
            attempt()
        assert refused.value.code == code


def test_listing_pages_through_every_chat_newest_first(tenant: Tenant) -> None:
    made = [_create(tenant, f"+1415555{9200 + n}").chat.id for n in range(5)]
    first = tenant.client.chats.list_chats(limit=2)
    assert [c.id for c in first.chats] == made[::-1][:2]
    assert first.next_cursor
    every = [c.id for c in tenant.client.chats.list_chats(limit=2)]  # SDK auto-pagination
    assert every == made[::-1]
    only = tenant.client.chats.list_chats(to="+14155559201").chats
    assert [c.id for c in only] == [made[1]]
    with pytest.raises(linq.BadRequestError):
        tenant.client.chats.list_chats(cursor="not-a-cursor")
    with pytest.raises(linq.BadRequestError):
        tenant.client.chats.list_chats(limit=101)


def test_updating_a_direct_chat_is_refused(tenant: Tenant) -> None:
    chat_id = _create(tenant, "+14155559300").chat.id
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.chats.update(chat_id, display_name="x")
    assert refused.value.code == 1006
    assert refused.value.response.headers["x-should-retry"] == "false"


def test_messages_create_reuses_then_rotates_lines(tenant: Tenant) -> None:
    first = tenant.client.messages.create(to=["+14155559400"], message=TEXT)
    assert (first.created_new_chat, first.from_selection.reason) == (True, "new_best_number")
    again = tenant.client.messages.create(to=["+14155559400"], message=TEXT)
    assert (again.chat_id, again.from_selection.reason) == (first.chat_id, "reused_active_chat")
    assert again.from_selection.reused_existing_chat is True
    other = tenant.client.messages.create(to=["+14155559401"], message=TEXT)
    assert other.from_ != first.from_  # the least recently used line


def test_exclude_from_never_abandons_a_live_chat(tenant: Tenant) -> None:
    first = tenant.client.messages.create(to=["+14155559402"], message=TEXT)
    kept = tenant.client.messages.create(
        to=["+14155559402"], message=TEXT, exclude_from=[first.from_]
    )
    assert kept.chat_id == first.chat_id
    fresh = tenant.client.messages.create(
        to=["+14155559403"], message=TEXT, exclude_from=[first.from_]
    )
    assert fresh.from_ != first.from_
    with pytest.raises(linq.BadRequestError) as everything:
        tenant.client.messages.create(
            to=["+14155559404"],
            message=TEXT,
            exclude_from=[line.phone_number for line in tenant.lines],
        )
    assert everything.value.code == 1005


def test_a_flagged_line_fails_over_with_the_continuation_message(tenant: Tenant) -> None:
    first = tenant.client.messages.create(to=["+14155559405"], message=TEXT)
    tenant.http.put(f"/sim/v1/lines/{first.from_}", json={"status": "FLAGGED"}).raise_for_status()
    with pytest.raises(linq.PermissionDeniedError) as ineligible:
        tenant.client.chats.messages.send(first.chat_id, message=TEXT)
    assert ineligible.value.code == 2027
    assert tenant.client.chats.retrieve(first.chat_id).id == first.chat_id  # reads still work
    moved = tenant.client.messages.create(
        to=["+14155559405"], message=TEXT, continuation_message={"text": "we moved lines"}
    )
    assert moved.from_selection.reason == "failover_flagged"
    assert moved.previous_chat_id == first.chat_id
    assert moved.from_ != first.from_
    part: Any = moved.message.parts[0]
    assert part.value == "we moved lines"
    assert tenant.sim.events("phone_number.status_updated")[-1]["data"]["new_status"] == "FLAGGED"
    for line in tenant.lines:
        tenant.http.put(f"/sim/v1/lines/{line.phone_number}", json={"status": "FLAGGED"})
    with pytest.raises(linq.ConflictError) as none_left:
        tenant.client.messages.create(to=["+14155559406"], message=TEXT)
    assert none_left.value.code == 2015


def test_mark_read_reads_inbound_messages(tenant: Tenant) -> None:
    chat_id = _create(tenant, "+14155559500").chat.id
    inbound = tenant.sim.send("+14155559500", to=tenant.line, text="hi there")
    assert tenant.client.messages.retrieve(inbound["message_id"]).is_read is False
    tenant.client.chats.mark_as_read(chat_id)
    assert tenant.client.messages.retrieve(inbound["message_id"]).is_read is True
