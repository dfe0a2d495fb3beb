"""POST /v3/messages: how the sending line and the chat are chosen (reuse, new, failover)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import linq
import pytest
from linq.types.message_create_response import MessageCreateResponse

from openlinq.domain.ids import AccountId
from openlinq.domain.models import Line, LineType
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, fresh_line_number, magic

A, B, C, D = "+14155556001", "+14155556002", "+14155556003", "+14155556004"
TEXT: Any = {"parts": [{"type": "text", "value": "hello"}]}


def _text(value: str) -> Any:
    return {"parts": [{"type": "text", "value": value}]}


def _send(tenant: Tenant, *to: str, message: Any = TEXT, **options: Any) -> MessageCreateResponse:
    return tenant.client.messages.create(to=list(to), message=message, **options)


def _flag(tenant: Tenant, line: str) -> None:
    response = tenant.http.put(f"/sim/v1/lines/{line}", json={"status": "FLAGGED"})
    assert response.status_code == 200, response.text


def _numbers(tenant: Tenant) -> list[str]:
    return [line.phone_number for line in tenant.lines]


def _texts(tenant: Tenant, chat_id: str) -> list[str]:
    messages = tenant.client.chats.messages.list(chat_id).messages
    return [p.value for m in messages for p in m.parts]  # type: ignore[union-attr]


@pytest.fixture
def three_lines(server: RunningServer) -> Iterator[Tenant]:
    created = create_tenant(server, line_types=(LineType.IMESSAGE,) * 3)
    yield created
    created.client.close()
    created.http.close()


@pytest.fixture
def imessage_and_rcs(server: RunningServer) -> Iterator[Tenant]:
    """An iMessage line (lines[0]) and an RCS-only line (lines[1])."""
    created = create_tenant(server, line_types=(LineType.IMESSAGE, LineType.RCS))
    yield created
    created.client.close()
    created.http.close()


def _use(tenant: Tenant, line: str) -> None:
    """A send from ``line`` (a use of it), then a second later: the other lines are older."""
    tenant.client.chats.create(from_=line, to=["+14155556099"], message=TEXT)
    tenant.sim.advance(1)


# -- new, then reuse -------------------------------------------------------------------


def test_a_new_recipient_gets_a_new_chat_on_the_best_line(tenant: Tenant) -> None:
    raw = tenant.client.messages.with_raw_response.create(to=[A], message=TEXT)
    assert raw.status_code == 202
    sent = raw.parse()
    assert (sent.from_selection.reason, sent.from_selection.reused_existing_chat) == (
        "new_best_number",
        False,
    )
    assert sent.created_new_chat is True
    assert sent.previous_chat_id is None
    assert sent.from_ in _numbers(tenant)
    assert [(h.handle, bool(h.is_me)) for h in sent.handles] == [(sent.from_, True), (A, False)]
    assert (sent.is_group, sent.service) == (False, "iMessage")
    assert sent.message.delivery_status == "queued"
    assert [e["data"]["id"] for e in tenant.sim.events("chat.created")] == [sent.chat_id]


def test_a_second_send_reuses_the_active_chat(tenant: Tenant) -> None:
    first = _send(tenant, A)
    again = _send(tenant, A, message=_text("again"))
    assert again.chat_id == first.chat_id
    assert again.from_ == first.from_
    assert (again.from_selection.reason, again.from_selection.reused_existing_chat) == (
        "reused_active_chat",
        True,
    )
    assert again.created_new_chat is False
    assert again.previous_chat_id is None
    assert sorted(_texts(tenant, first.chat_id)) == ["again", "hello"]
    assert len(tenant.sim.events("chat.created")) == 1


def test_a_chat_made_through_post_chats_is_reused(tenant: Tenant) -> None:
    second = _numbers(tenant)[1]
    made = tenant.client.chats.create(from_=second, to=[A], message=TEXT).chat
    sent = _send(tenant, A)
    assert (sent.chat_id, sent.from_, sent.from_selection.reason) == (
        made.id,
        second,
        "reused_active_chat",
    )


def test_a_group_reports_its_line_handles_and_service(tenant: Tenant) -> None:
    group = _send(tenant, A, B, C)
    assert group.is_group is True
    assert group.service == "iMessage"
    assert [(h.handle, bool(h.is_me)) for h in group.handles] == [
        (group.from_, True),
        (A, False),
        (B, False),
        (C, False),
    ]
    again = _send(tenant, C, B, A, B)  # the same set, in another order, with a duplicate
    assert (again.chat_id, again.from_selection.reason) == (group.chat_id, "reused_active_chat")
    assert again.is_group is True
    assert tenant.client.chats.retrieve(group.chat_id).is_group is True


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"parts": [{"type": "link", "value": "https://example.com"}]}, id="link"),
        pytest.param(_text("see example.com"), id="url-in-text"),
    ],
)
def test_a_link_is_allowed_in_the_first_message(tenant: Tenant, message: Any) -> None:
    sent = _send(tenant, A, message=message)
    assert (sent.created_new_chat, sent.from_selection.reason) == (True, "new_best_number")
    assert sent.message.delivery_status == "queued"


# -- rotation --------------------------------------------------------------------------


def test_new_recipients_rotate_through_the_least_recently_used_line(three_lines: Tenant) -> None:
    tenant = three_lines

    def new_chat_line(to: str) -> str:
        sent = _send(tenant, to)
        tenant.sim.advance(1)  # distinct use times
        return sent.from_

    first, second, third = (new_chat_line(to) for to in (A, B, C))
    assert sorted([first, second, third]) == sorted(_numbers(tenant))
    # Reusing A's chat counts as a use of its line, so B's line is now the oldest.
    assert _send(tenant, A).from_ == first
    tenant.sim.advance(1)
    assert new_chat_line(D) == second
    assert new_chat_line("+14155556005") == third
    assert new_chat_line("+14155556006") == first


def test_post_chats_with_an_explicit_line_counts_as_a_use(tenant: Tenant) -> None:
    lines = _numbers(tenant)
    tenant.client.chats.create(from_=lines[0], to=[A], message=TEXT)
    tenant.sim.advance(1)
    tenant.client.chats.create(from_=lines[1], to=[B], message=TEXT)
    tenant.sim.advance(1)
    assert _send(tenant, C).from_ == lines[0]
    tenant.sim.advance(1)
    assert _send(tenant, D).from_ == lines[1]


# -- reaching the recipient -------------------------------------------------------------


@pytest.mark.parametrize("to", ["+14155556010", "someone@example.com"], ids=["iphone", "email"])
def test_an_apple_recipient_gets_the_imessage_line_though_the_rcs_line_is_older(
    imessage_and_rcs: Tenant, to: str
) -> None:
    tenant = imessage_and_rcs
    imessage, _ = _numbers(tenant)
    _use(tenant, imessage)  # least recently used is now the RCS-only line
    sent = _send(tenant, to)
    assert (sent.from_, sent.service, sent.message.service) == (imessage, "iMessage", "iMessage")
    tenant.sim.settle(2)
    message = tenant.client.messages.retrieve(sent.message.id)
    assert message.delivery_status == "delivered"
    # On iMessage, the edits SMS refuses (409 / 2017) work.
    edited = tenant.client.messages.update(sent.message.id, text="hello, edited")
    assert [p.value for p in edited.parts] == ["hello, edited"]  # type: ignore[union-attr]


def test_an_android_recipient_gets_a_line_with_rcs_though_an_imessage_line_is_older(
    server: RunningServer, tenant: Tenant
) -> None:
    add_line = functools.partial(server.services.accounts.add_line, rcs_enabled=False)
    plain: Line = server.call(add_line, AccountId(tenant.account_id), fresh_line_number())
    with_rcs = _numbers(tenant)
    for line in with_rcs:
        _use(tenant, line)  # the line without RCS is now the least recently used
    sent = _send(tenant, magic("02"))
    assert sent.from_ in with_rcs
    assert sent.from_ != plain.phone_number
    assert (sent.service, sent.message.service) == ("RCS", "RCS")


def test_between_lines_equal_for_the_message_the_one_reaching_the_best_service_wins(
    imessage_and_rcs: Tenant,
) -> None:
    tenant = imessage_and_rcs
    imessage, _ = _numbers(tenant)
    _use(tenant, imessage)
    # SMS goes out alike from both lines; the chat stays on its line, and later sends
    # with no preference reach this iPhone on iMessage only from the iMessage line.
    sent = _send(tenant, "+14155556011", message={**TEXT, "preferred_service": "SMS"})
    assert (sent.from_, sent.message.service) == (imessage, "SMS")
    later = _send(tenant, "+14155556011", message=_text("later"))
    assert (later.chat_id, later.message.service) == (sent.chat_id, "iMessage")


def test_the_line_that_reaches_best_excluded_the_next_one_is_used(
    imessage_and_rcs: Tenant,
) -> None:
    tenant = imessage_and_rcs
    imessage, rcs = _numbers(tenant)
    sent = _send(tenant, "+14155556012", exclude_from=[imessage])
    assert (sent.from_, sent.message.service) == (rcs, "SMS")
    _flag(tenant, rcs)
    moved = _send(tenant, "+14155556012")
    assert (moved.from_selection.reason, moved.from_, moved.message.service) == (
        "failover_flagged",
        imessage,
        "iMessage",
    )


# -- exclude_from ----------------------------------------------------------------------


def test_exclude_from_skips_a_line_for_a_new_chat(tenant: Tenant) -> None:
    used = _send(tenant, A).from_
    tenant.sim.advance(1)
    (fresh,) = set(_numbers(tenant)) - {used}  # the least recently used: the natural pick
    sent = _send(tenant, B, exclude_from=[fresh])
    assert (sent.created_new_chat, sent.from_) == (True, used)


def test_exclude_from_ignores_numbers_that_are_not_your_lines(tenant: Tenant) -> None:
    sent = _send(tenant, A, exclude_from=["+14155550999", "+442071838750"])
    assert sent.from_ in _numbers(tenant)


def test_exclude_from_never_abandons_the_only_live_chat(tenant: Tenant) -> None:
    first = _send(tenant, A)
    kept = _send(tenant, A, exclude_from=[first.from_])
    assert (kept.chat_id, kept.from_, kept.from_selection.reason) == (
        first.chat_id,
        first.from_,
        "reused_active_chat",
    )
    # Even excluding every line is fine while a live chat exists: no line has to be picked.
    everything = _send(tenant, A, exclude_from=_numbers(tenant))
    assert everything.chat_id == first.chat_id


def test_exclude_from_prefers_a_chat_on_a_non_excluded_line(tenant: Tenant) -> None:
    lines = _numbers(tenant)
    older = tenant.client.chats.create(from_=lines[0], to=[A], message=TEXT).chat.id
    tenant.sim.advance(1)
    newer = tenant.client.chats.create(from_=lines[1], to=[A], message=TEXT).chat.id
    tenant.sim.advance(1)
    assert _send(tenant, A).chat_id == newer  # most recently active wins
    tenant.sim.advance(1)
    assert _send(tenant, A, exclude_from=[lines[1]]).chat_id == older


@pytest.mark.parametrize("entry", ["4155551234", "+1 415 555 1234", "not-a-number"])
def test_exclude_from_entries_must_be_e164(tenant: Tenant, entry: str) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        _send(tenant, A, exclude_from=[tenant.line, entry])
    assert (refused.value.status_code, refused.value.code) == (400, 1002)
    assert tenant.client.chats.list_chats().chats == []


def test_excluding_every_line_for_a_new_chat_is_refused(tenant: Tenant) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        _send(tenant, A, exclude_from=_numbers(tenant))
    assert (refused.value.status_code, refused.value.code) == (400, 1005)
    assert tenant.client.chats.list_chats().chats == []


# -- failover --------------------------------------------------------------------------


def test_a_flagged_line_fails_over_with_the_continuation_message(tenant: Tenant) -> None:
    first = _send(tenant, A)
    _flag(tenant, first.from_)
    moved = _send(
        tenant,
        A,
        message=_text("original"),
        continuation_message={"text": "new number, same us"},
    )
    assert (moved.from_selection.reason, moved.from_selection.reused_existing_chat) == (
        "failover_flagged",
        False,
    )
    assert moved.created_new_chat is True
    assert moved.previous_chat_id == first.chat_id
    assert moved.chat_id != first.chat_id
    assert moved.from_ != first.from_
    assert [p.value for p in moved.message.parts] == ["new number, same us"]  # type: ignore[union-attr]
    assert _texts(tenant, moved.chat_id) == ["new number, same us"]  # exactly one message
    assert _texts(tenant, first.chat_id) == ["hello"]  # nothing went into the abandoned chat
    tenant.sim.settle(2)
    received = [m["parts"] for m in tenant.sim.screen(A) if m["direction"] == "received"]
    assert [p[0]["value"] for p in received] == ["hello", "new number, same us"]


def test_flagging_a_line_emits_phone_number_status_updated(tenant: Tenant) -> None:
    _flag(tenant, tenant.line)
    [event] = tenant.sim.events("phone_number.status_updated")
    assert event["phone_number"] == tenant.line
    data = event["data"]
    assert (data["phone_number"], data["previous_status"], data["new_status"]) == (
        tenant.line,
        "ACTIVE",
        "FLAGGED",
    )


def test_failover_without_a_continuation_sends_the_message(tenant: Tenant) -> None:
    first = _send(tenant, A)
    _flag(tenant, first.from_)
    moved = _send(tenant, A, message=_text("original"))
    assert (moved.from_selection.reason, moved.previous_chat_id) == (
        "failover_flagged",
        first.chat_id,
    )
    assert [p.value for p in moved.message.parts] == ["original"]  # type: ignore[union-attr]


def test_after_failover_the_new_chat_is_reused_and_continuation_is_ignored(
    tenant: Tenant,
) -> None:
    first = _send(tenant, A, continuation_message={"text": "ignored on first contact"})
    assert [p.value for p in first.message.parts] == ["hello"]  # type: ignore[union-attr]
    _flag(tenant, first.from_)
    moved = _send(tenant, A)
    again = _send(tenant, A, message=_text("later"), continuation_message={"text": "ignored"})
    assert (again.chat_id, again.from_selection.reason) == (moved.chat_id, "reused_active_chat")
    assert again.previous_chat_id is None
    assert [p.value for p in again.message.parts] == ["later"]  # type: ignore[union-attr]


def test_no_eligible_line_is_a_final_409(tenant: Tenant) -> None:
    first = _send(tenant, A)
    for line in _numbers(tenant):
        _flag(tenant, line)
    for to in (A, B):  # failover and a new recipient alike
        with pytest.raises(linq.ConflictError) as refused:
            _send(tenant, to)
        assert (refused.value.status_code, refused.value.code) == (409, 2015)
        assert refused.value.response.headers["x-should-retry"] == "false"
    assert _texts(tenant, first.chat_id) == ["hello"]
    assert len(tenant.client.chats.list_chats().chats) == 1
