"""Polls (issue #14 item 1): create, retrieve, add options, vote; the simulated phones' side
(polls received, votes, options, stickers); every poll.* event; the iMessage-only rule.

Driven through the official SDK with strict response validation; the webhook tests check
each event with the SDK's own event class and its signature.
"""

from __future__ import annotations

import functools
from typing import Any

import linq
import pytest
from linq.types import (
    PollDeliveredWebhookEvent,
    PollFailedWebhookEvent,
    PollReactionAddedWebhookEvent,
    PollReadWebhookEvent,
    PollReceivedWebhookEvent,
    PollSentWebhookEvent,
    PollUpdatedWebhookEvent,
    PollVoteAddedWebhookEvent,
    PollVoteRemovedWebhookEvent,
)
from linq.types.chats import PollEnvelope

from openlinq.domain.ids import AccountId, MessageId
from openlinq.domain.poll_options import MAX_OPTION_TEXT, MAX_OPTIONS
from tests.support.receiver import Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, magic, tenant_on

FRIEND = "+14155557001"
OTHER = "+14155557002"
SMS_ONLY = magic("01")
ANDROID = magic("02")
UNREACHABLE = magic("03")
READER = magic("04")

# Keyed by the SDK's event type literal (Any: a str key would not type-check as one).
POLL_EVENTS: dict[Any, Any] = {
    "poll.sent": PollSentWebhookEvent,
    "poll.delivered": PollDeliveredWebhookEvent,
    "poll.read": PollReadWebhookEvent,
    "poll.failed": PollFailedWebhookEvent,
    "poll.received": PollReceivedWebhookEvent,
    "poll.updated": PollUpdatedWebhookEvent,
    "poll.vote.added": PollVoteAddedWebhookEvent,
    "poll.vote.removed": PollVoteRemovedWebhookEvent,
    "poll.reaction.added": PollReactionAddedWebhookEvent,
}


def _chat(tenant: Tenant, *to: str) -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=list(to), message={"parts": [{"type": "text", "value": "lunch?"}]}
    )
    return created.chat.id


def _options(*texts: str) -> list[Any]:
    return [{"text": t} for t in texts]


def _poll(tenant: Tenant, chat_id: str, *texts: str, key: str | None = None) -> PollEnvelope:
    poll: Any = {"options": _options(*(texts or ("Pizza", "Tacos")))}
    if key is not None:
        poll["idempotency_key"] = key
    return tenant.client.chats.polls.create(chat_id, poll=poll)


def _refused(error: linq.APIStatusError) -> tuple[int, int]:
    body = error.response.json()
    assert body["success"] is False
    assert body["error"]["doc_url"]
    assert body["trace_id"]
    return error.status_code, int(body["error"]["code"])


def _data(tenant: Tenant, event_type: str) -> list[dict[str, Any]]:
    return [e["data"] for e in tenant.sim.events(event_type)]


def _sim(tenant: Tenant, handle: str, path: str, **body: Any) -> Any:
    response = tenant.http.post(f"/sim/v1/devices/{handle}/{path}", json=body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


# -- create and read -----------------------------------------------------------------------


def test_a_poll_is_created_sent_and_read_back(tenant: Tenant) -> None:
    chat_id = _chat(tenant, FRIEND)
    envelope = _poll(tenant, chat_id, "Pizza", "Tacos", "Sushi")
    assert envelope.chat_id == chat_id
    assert [o.text for o in envelope.poll.options] == ["Pizza", "Tacos", "Sushi"]
    assert envelope.poll.total_voters == 0
    assert envelope.reactions == []
    first = envelope.poll.options[0]
    assert first.creator_handle.handle == tenant.line
    assert first.creator_handle.is_me
    assert first.voters == []
    assert first.can_be_edited is False
    assert len({o.option_id for o in envelope.poll.options}) == 3
    tenant.sim.settle(2)
    again = tenant.client.messages.poll.retrieve(envelope.message_id)
    assert again.model_dump() == envelope.model_dump()
    # The poll is a message of the chat: no part type of the contract carries a poll, so
    # its parts are empty (the options are read with GET /v3/messages/{id}/poll).
    message = tenant.client.messages.retrieve(envelope.message_id)
    assert (message.delivery_status, message.is_from_me, message.parts) == ("delivered", True, [])
    listed = tenant.client.chats.messages.list(chat_id)
    assert envelope.message_id in [m.id for m in listed.messages]
    # Its lifecycle is told with poll.* events, not message.*.
    assert [d["message_id"] for d in _data(tenant, "poll.sent")] == [envelope.message_id]
    assert [d["message_id"] for d in _data(tenant, "poll.delivered")] == [envelope.message_id]
    assert envelope.message_id not in [d["id"] for d in _data(tenant, "message.sent")]


@pytest.mark.parametrize("to", [SMS_ONLY, ANDROID], ids=["sms", "rcs"])
def test_polls_are_imessage_only(tenant: Tenant, to: str) -> None:
    chat_id = _chat(tenant, to)
    before = tenant.client.chats.messages.list(chat_id).messages
    with pytest.raises(linq.ConflictError) as refused:
        _poll(tenant, chat_id)
    assert _refused(refused.value) == (409, 2017)
    tenant.sim.settle(2)
    assert len(tenant.client.chats.messages.list(chat_id).messages) == len(before)
    assert tenant.sim.events("poll.sent") == []
    assert tenant.sim.events("poll.failed") == []


def test_a_poll_in_a_group_needs_every_member_on_imessage(tenant: Tenant) -> None:
    assert _poll(tenant, _chat(tenant, FRIEND, OTHER)).poll.total_voters == 0
    with pytest.raises(linq.ConflictError) as refused:
        _poll(tenant, _chat(tenant, FRIEND, SMS_ONLY))
    assert _refused(refused.value) == (409, 2017)


@pytest.mark.parametrize(
    "texts",
    [
        ["Only one"],
        [],
        [f"Option {i}" for i in range(MAX_OPTIONS + 1)],
        ["Pizza", "   "],
        ["Pizza", "x" * (MAX_OPTION_TEXT + 1)],
        ["Pizza", " pizza "],
    ],
    ids=["one", "none", "too-many", "blank", "too-long", "repeated"],
)
def test_option_rules(tenant: Tenant, texts: list[str]) -> None:
    chat_id = _chat(tenant, FRIEND)
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.polls.create(chat_id, poll={"options": _options(*texts)})
    assert _refused(refused.value) == (400, 1005)
    assert len(tenant.client.chats.messages.list(chat_id).messages) == 1


def test_the_most_options_and_the_longest_text_are_accepted(tenant: Tenant) -> None:
    texts = [f"{i} " + "x" * (MAX_OPTION_TEXT - 3) for i in range(MAX_OPTIONS)]
    envelope = _poll(tenant, _chat(tenant, FRIEND), *texts)
    assert [o.text for o in envelope.poll.options] == texts


def test_an_idempotency_key_sends_one_poll(tenant: Tenant) -> None:
    chat_id = _chat(tenant, FRIEND)
    first = _poll(tenant, chat_id, "A", "B", key="poll-1")
    again = _poll(tenant, chat_id, "A", "B", key="poll-1")
    assert again.message_id == first.message_id
    with pytest.raises(linq.ConflictError) as refused:
        _poll(tenant, chat_id, "A", "C", key="poll-1")
    assert _refused(refused.value) == (409, 2015)
    assert len(tenant.client.chats.messages.list(chat_id).messages) == 2


def test_unknown_chats_and_messages_that_are_no_polls_are_404(tenant: Tenant) -> None:
    with pytest.raises(linq.NotFoundError) as refused:
        _poll(tenant, "00000000-0000-4000-8000-000000000000")
    assert _refused(refused.value) == (404, 2001)
    chat_id = _chat(tenant, FRIEND)
    text_id = tenant.client.chats.messages.list(chat_id).messages[0].id
    for message_id in (text_id, "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(linq.NotFoundError) as refused:
            tenant.client.messages.poll.retrieve(message_id)
        assert _refused(refused.value) == (404, 2002)
        with pytest.raises(linq.NotFoundError):
            tenant.client.messages.poll.vote(message_id, operation="add", option_id="x")
        with pytest.raises(linq.NotFoundError):
            tenant.client.messages.poll.add_options(message_id, options=_options("C"))


def test_another_accounts_poll_is_404(server: RunningServer, tenant: Tenant) -> None:
    envelope = _poll(tenant, _chat(tenant, FRIEND))
    with tenant_on(server) as other:
        with pytest.raises(linq.NotFoundError):
            other.client.messages.poll.retrieve(envelope.message_id)
        with pytest.raises(linq.NotFoundError):
            other.client.chats.polls.create(envelope.chat_id, poll={"options": _options("A", "B")})


def test_an_ephemeral_poll_loses_its_option_texts_with_its_window(
    server: RunningServer, tenant: Tenant
) -> None:
    server.call(
        functools.partial(
            server.services.accounts.set_policy,
            AccountId(tenant.account_id),
            pair_limit_per_minute=None,
            daily_message_limit=None,
            retention_hours=1,
        )
    )
    envelope = _poll(tenant, _chat(tenant, FRIEND), "Secret plan A", "Secret plan B")
    tenant.sim.advance(3600 + 61)  # past the window, and past the next sweep
    with pytest.raises(linq.NotFoundError):
        tenant.client.messages.poll.retrieve(envelope.message_id)

    async def option_texts() -> list[str]:
        async with server.services.storage.read() as repos:
            return [o.text for o in await repos.polls.options(MessageId(envelope.message_id))]

    assert server.call(option_texts) == ["", ""]


def test_a_deleted_poll_is_gone(tenant: Tenant) -> None:
    envelope = _poll(tenant, _chat(tenant, FRIEND))
    tenant.client.messages.delete(envelope.message_id)
    with pytest.raises(linq.NotFoundError):
        tenant.client.messages.poll.retrieve(envelope.message_id)


# -- your line votes and adds options ----------------------------------------------------


def test_your_line_votes_per_option(tenant: Tenant) -> None:
    envelope = _poll(tenant, _chat(tenant, FRIEND))
    pizza, tacos = (o.option_id for o in envelope.poll.options)
    voted = tenant.client.messages.poll.vote(envelope.message_id, operation="add", option_id=pizza)
    assert [v.handle for v in voted.poll.options[0].voters] == [tenant.line]
    assert voted.poll.total_voters == 1
    assert voted.updated_at >= envelope.updated_at
    both = tenant.client.messages.poll.vote(envelope.message_id, operation="add", option_id=tacos)
    assert both.poll.total_voters == 1  # distinct voters
    # A vote already as asked changes nothing and says nothing.
    tenant.client.messages.poll.vote(envelope.message_id, operation="add", option_id=pizza)
    added = _data(tenant, "poll.vote.added")
    assert [(d["option_id"], d["direction"]) for d in added] == [
        (pizza, "outbound"),
        (tacos, "outbound"),
    ]
    assert added[0]["sender_handle"]["handle"] == tenant.line
    removed = tenant.client.messages.poll.vote(
        envelope.message_id, operation="remove", option_id=pizza
    )
    assert removed.poll.options[0].voters == []
    assert removed.poll.total_voters == 1
    assert [d["option_id"] for d in _data(tenant, "poll.vote.removed")] == [pizza]
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.messages.poll.vote(envelope.message_id, operation="add", option_id="nope")
    assert _refused(refused.value) == (400, 1005)


def test_options_are_added_never_changed(tenant: Tenant) -> None:
    envelope = _poll(tenant, _chat(tenant, FRIEND))
    grown = tenant.client.messages.poll.add_options(
        envelope.message_id, options=_options("Sushi", "Curry")
    )
    assert [o.text for o in grown.poll.options] == ["Pizza", "Tacos", "Sushi", "Curry"]
    assert grown.poll.options[:2] == envelope.poll.options
    (updated,) = _data(tenant, "poll.updated")
    assert [o["text"] for o in updated["added_options"]] == ["Sushi", "Curry"]
    assert (updated["direction"], updated["sender_handle"]["handle"]) == ("outbound", tenant.line)
    for texts in (["pizza"], [], [f"x{i}" for i in range(MAX_OPTIONS - 3)]):
        with pytest.raises(linq.BadRequestError) as refused:
            tenant.client.messages.poll.add_options(envelope.message_id, options=_options(*texts))
        assert _refused(refused.value) == (400, 1005)
    assert len(tenant.client.messages.poll.retrieve(envelope.message_id).poll.options) == 4


def test_a_zero_retention_line_resends_every_option_and_its_events_carry_no_texts(
    tenant: Tenant,
) -> None:
    zero = tenant.http.patch(f"/sim/v1/lines/{tenant.line}", json={"zero_retention": True})
    assert zero.status_code == 200, zero.text
    envelope = _poll(tenant, _chat(tenant, FRIEND))
    tenant.sim.settle(2)
    (sent,) = _data(tenant, "poll.sent")
    assert sent["zero_retention"] is True
    assert [o["text"] for o in sent["poll"]["options"]] == ["", ""]
    for texts in (["Sushi"], ["Tacos", "Pizza", "Sushi"], ["Pizza", "Tacos"]):
        with pytest.raises(linq.BadRequestError) as refused:
            tenant.client.messages.poll.add_options(envelope.message_id, options=_options(*texts))
        assert _refused(refused.value) == (400, 1005)
    grown = tenant.client.messages.poll.add_options(
        envelope.message_id, options=_options("Pizza", "Tacos", "Sushi")
    )
    assert [o.text for o in grown.poll.options] == ["Pizza", "Tacos", "Sushi"]
    (updated,) = _data(tenant, "poll.updated")
    assert [o["text"] for o in updated["added_options"]] == [""]
    theirs = _sim(tenant, FRIEND, "poll-options", message_id=envelope.message_id, options=["Curry"])
    assert theirs is None
    inbound = next(u for u in _data(tenant, "poll.updated") if u["direction"] == "inbound")
    assert [o["text"] for o in inbound["added_options"]] == ["Curry"]  # a phone's: kept


def test_a_poll_that_failed_takes_no_votes(tenant: Tenant) -> None:
    envelope = _poll(tenant, _chat(tenant, UNREACHABLE))
    tenant.sim.settle(1)
    (failed,) = _data(tenant, "poll.failed")
    assert failed["error"]["code"] == 4002
    assert failed["sender_handle"] is None
    assert [o["text"] for o in failed["poll"]["options"]] == ["Pizza", "Tacos"]
    assert tenant.client.messages.retrieve(envelope.message_id).delivery_status == "failed"
    failed_messages = [d["message_id"] for d in _data(tenant, "message.failed")]
    assert envelope.message_id not in failed_messages  # only the chat's opening text
    option = envelope.poll.options[0].option_id
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.messages.poll.vote(envelope.message_id, operation="add", option_id=option)
    assert _refused(refused.value) == (409, 2015)


def test_a_line_that_left_the_chat_cannot_vote(tenant: Tenant) -> None:
    chat_id = _chat(tenant, FRIEND, OTHER, "+14155557003")  # a line leaves groups of 4+
    envelope = _poll(tenant, chat_id)
    tenant.client.chats.leave_chat(chat_id)
    option = envelope.poll.options[0].option_id
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.messages.poll.vote(envelope.message_id, operation="add", option_id=option)
    assert _refused(refused.value) == (409, 2013)


# -- reactions -------------------------------------------------------------------------------


def test_a_poll_takes_stickers_only(tenant: Tenant) -> None:
    envelope = _poll(tenant, _chat(tenant, FRIEND))
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.messages.add_reaction(envelope.message_id, operation="add", type="love")
    assert _refused(refused.value) == (400, 1005)
    tenant.client.messages.add_reaction(
        envelope.message_id, operation="add", type="sticker", emoji="🍕"
    )
    _sim(tenant, FRIEND, "reactions", message_id=envelope.message_id, type="sticker", emoji="🌮")
    reactions = tenant.client.messages.poll.retrieve(envelope.message_id).reactions
    assert [(r.type, r.is_me, r.handle.handle) for r in reactions] == [
        ("sticker", True, tenant.line),
        ("sticker", False, FRIEND),
    ]
    stickers = _data(tenant, "poll.reaction.added")
    assert [(d["is_from_me"], d["message_id"]) for d in stickers] == [
        (True, envelope.message_id),
        (False, envelope.message_id),
    ]
    assert tenant.sim.events("reaction.added") == []
    response = tenant.http.post(
        f"/sim/v1/devices/{FRIEND}/reactions",
        json={"message_id": envelope.message_id, "type": "like"},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, 1005)


# -- the simulated phones ------------------------------------------------------------------


def test_a_device_set_to_vote_votes_after_reading(tenant: Tenant) -> None:
    tenant.sim.configure(FRIEND, read_after=1.0, poll_vote=2, poll_vote_after=3.0)
    envelope = _poll(tenant, _chat(tenant, FRIEND))
    tenant.sim.advance(0)
    tenant.sim.advance(1)
    assert _data(tenant, "poll.read")
    assert not _data(tenant, "poll.vote.added")
    tenant.sim.advance(3)
    (vote,) = _data(tenant, "poll.vote.added")
    assert vote["option_id"] == envelope.poll.options[1].option_id
    assert (vote["direction"], vote["sender_handle"]["handle"]) == ("inbound", FRIEND)
    result = tenant.client.messages.poll.retrieve(envelope.message_id)
    assert [v.handle for v in result.poll.options[1].voters] == [FRIEND]
    # A poll gets a vote, not an echo: no text reply follows.
    assert tenant.sim.events("message.received") == []


def test_a_device_votes_for_an_option_the_poll_has(tenant: Tenant) -> None:
    tenant.sim.configure(FRIEND, poll_vote=5, poll_vote_after=0)
    _poll(tenant, _chat(tenant, FRIEND))
    tenant.sim.settle(2)
    assert tenant.sim.events("poll.vote.added") == []


def test_a_device_creates_a_poll_votes_and_adds_options(tenant: Tenant) -> None:
    chat_id = _chat(tenant, FRIEND)
    created = _sim(tenant, FRIEND, "polls", chat_id=chat_id, options=["Mon", "Tue"])
    message_id = created["message_id"]
    (received,) = _data(tenant, "poll.received")
    assert (received["message_id"], received["direction"]) == (message_id, "inbound")
    assert received["sender_handle"]["handle"] == FRIEND
    assert received["sender_handle"]["is_me"] is False
    assert [o["text"] for o in received["poll"]["options"]] == ["Mon", "Tue"]
    envelope = tenant.client.messages.poll.retrieve(message_id)
    monday, tuesday = (o.option_id for o in envelope.poll.options)
    assert envelope.poll.options[0].creator_handle.handle == FRIEND
    _sim(tenant, FRIEND, "poll-votes", message_id=message_id, option_id=monday)
    _sim(tenant, FRIEND, "poll-votes", message_id=message_id, option_id=monday, operation="remove")
    _sim(tenant, FRIEND, "poll-options", message_id=message_id, options=["Wed"])
    (updated,) = _data(tenant, "poll.updated")
    assert updated["sender_handle"]["handle"] == tenant.line  # your line, not the adder
    assert updated["added_options"][0]["creator_handle"]["handle"] == FRIEND
    assert updated["direction"] == "inbound"
    # Your line votes on their poll.
    mine = tenant.client.messages.poll.vote(message_id, operation="add", option_id=tuesday)
    assert mine.poll.total_voters == 1
    assert len(mine.poll.options) == 3
    directions = [d["direction"] for d in _data(tenant, "poll.vote.added")]
    assert directions == ["inbound", "outbound"]
    assert [d["sender_handle"]["handle"] for d in _data(tenant, "poll.vote.removed")] == [FRIEND]
    message = tenant.client.messages.retrieve(message_id)
    assert (message.is_from_me, message.delivery_status, message.parts) == (False, "received", [])


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("polls", {"options": ["A"]}, 400, 1005),
        ("poll-votes", {"option_id": "nope"}, 400, 1005),
        ("poll-options", {"options": ["pizza"]}, 400, 1005),
    ],
)
def test_the_phones_obey_the_poll_rules(
    tenant: Tenant, path: str, body: dict[str, Any], status: int, code: int
) -> None:
    envelope = _poll(tenant, _chat(tenant, FRIEND))
    target = (
        {"chat_id": envelope.chat_id} if path == "polls" else {"message_id": envelope.message_id}
    )
    response = tenant.http.post(f"/sim/v1/devices/{FRIEND}/{path}", json={**target, **body})
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_a_phone_outside_the_chat_or_off_imessage_cannot_poll(tenant: Tenant) -> None:
    envelope = _poll(tenant, _chat(tenant, FRIEND))
    response = tenant.http.post(
        f"/sim/v1/devices/{OTHER}/poll-votes",
        json={"message_id": envelope.message_id, "option_id": envelope.poll.options[0].option_id},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (403, 2005)
    sms_chat = _chat(tenant, SMS_ONLY)
    response = tenant.http.post(
        f"/sim/v1/devices/{SMS_ONLY}/polls", json={"chat_id": sms_chat, "options": ["A", "B"]}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (409, 2017)


# -- webhooks --------------------------------------------------------------------------------


def test_every_poll_event_arrives_signed_in_the_sdks_shape(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=list(POLL_EVENTS)
    )
    tenant.sim.configure(READER, read_after=1.0, poll_vote=1, poll_vote_after=0.5)
    chat_id = _chat(tenant, READER)
    ours = _poll(tenant, chat_id)
    tenant.client.messages.poll.add_options(ours.message_id, options=_options("Sushi"))
    tenant.client.messages.add_reaction(
        ours.message_id, operation="add", type="sticker", emoji="🍕"
    )
    tenant.sim.settle(3)
    theirs = _sim(tenant, READER, "polls", chat_id=chat_id, options=["Mon", "Tue"])
    option = tenant.client.messages.poll.retrieve(theirs["message_id"]).poll.options[0]
    tenant.client.messages.poll.vote(
        theirs["message_id"], operation="add", option_id=option.option_id
    )
    tenant.client.messages.poll.vote(
        theirs["message_id"], operation="remove", option_id=option.option_id
    )
    _poll(tenant, _chat(tenant, UNREACHABLE))
    tenant.sim.settle(3)
    seen: dict[str, Any] = {}
    for hit in receiver.hits:
        event = tenant.client.webhooks.unwrap(
            hit.body.decode(), headers=hit.headers, key=subscription.signing_secret
        )
        # Every field the SDK's class for this event type requires is there, typed right.
        seen[event.event_type] = POLL_EVENTS[event.event_type].model_validate(hit.event)
    assert set(seen) == set(POLL_EVENTS)
    sent = seen["poll.sent"].data
    assert (sent.message_id, sent.direction, sent.service) == (
        ours.message_id,
        "outbound",
        "iMessage",
    )
    assert sent.sent_at is not None
    assert sent.zero_retention is False
    assert sent.chat.owner_handle.handle == tenant.line
    assert seen["poll.read"].data.read_at is not None
    assert seen["poll.delivered"].data.delivered_at is not None
    assert seen["poll.received"].data.received_at is not None
    assert [o.text for o in seen["poll.updated"].data.added_options] == ["Sushi"]
    assert seen["poll.reaction.added"].data.reaction_type == "sticker"
    assert seen["poll.failed"].data.error.code == 4002
