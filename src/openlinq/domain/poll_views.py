"""JSON views of polls: the ``PollEnvelope`` every poll endpoint returns and the data of
every ``poll.*`` event, rendered once here for both."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openlinq.domain.ids import HandleId
from openlinq.domain.links import Links
from openlinq.domain.models import (
    Chat,
    ChatHandle,
    Direction,
    HandleStatus,
    Line,
    Message,
    Poll,
    PollOption,
    Reaction,
)
from openlinq.domain.views import handle_view, reactions_view

JSON = dict[str, Any]


def participant_view(chat: Chat, handle: str, line: Line | None, since: datetime) -> JSON:
    """A participant as a ``ChatHandle``, also after they left the chat."""
    found = next((h for h in chat.handles if h.handle == handle), None)
    if found is None:
        found = ChatHandle(
            id=HandleId(f"{chat.id}:{handle}"),
            chat_id=chat.id,
            handle=handle,
            service=chat.service,
            is_me=False,
            status=HandleStatus.LEFT,
            joined_at=since,
            left_at=None,
        )
    return handle_view(found, line)


def option_view(
    poll: Poll, option: PollOption, chat: Chat, line: Line | None, *, hide_text: bool = False
) -> JSON:
    return {
        "option_id": option.id,
        "text": "" if hide_text else option.text,
        # Options are add-only and immutable on the platform (an Apple constraint).
        "can_be_edited": False,
        "creator_handle": participant_view(chat, option.creator_handle, line, option.created_at),
        "voters": [
            {"handle": v.handle, "voted_at": v.voted_at}
            for v in poll.votes
            if v.option_id == option.id
        ],
    }


def poll_view(poll: Poll, chat: Chat, line: Line | None, *, hide_text: bool = False) -> JSON:
    return {
        "options": [option_view(poll, o, chat, line, hide_text=hide_text) for o in poll.options],
        "total_voters": len({v.handle for v in poll.votes}),
    }


def envelope_view(
    poll: Poll, chat: Chat, line: Line, links: Links, reactions: Sequence[Reaction]
) -> JSON:
    """``PollEnvelope``."""
    message = poll.message
    return {
        "chat_id": chat.id,
        "message_id": message.id,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
        "poll": poll_view(poll, chat, line),
        "reactions": reactions_view(reactions, chat, links, line),
    }


def _chat_view(chat: Chat, line: Line) -> JSON:
    return {
        "id": chat.id,
        "is_group": chat.is_group,
        "owner_handle": handle_view(chat.own_handle, line),
    }


def _base(message: Message, chat: Chat, line: Line) -> JSON:
    return {
        "chat": _chat_view(chat, line),
        "direction": message.direction.value,
        "message_id": message.id,
        "service": message.service.value,
        "zero_retention": line.zero_retention,
    }


def _hidden(line: Line, direction: str) -> bool:
    """A zero-retention line's events carry no text of its own polls' options; a phone's
    options keep theirs (they come from the live event, contract §7.3)."""
    return line.zero_retention and direction == Direction.OUTBOUND.value


def poll_status_data(poll: Poll, chat: Chat, line: Line) -> JSON:
    """``poll.sent`` / ``poll.delivered`` / ``poll.read`` (and, with ``received_at``,
    ``poll.received``): the poll as it stands, with the timestamps of its state."""
    message = poll.message
    return {
        **_base(message, chat, line),
        "created_at": message.created_at,
        "updated_at": message.updated_at,
        "poll": poll_view(poll, chat, line, hide_text=_hidden(line, message.direction.value)),
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "read_at": message.read_at,
        "sender_handle": participant_view(chat, message.sender_handle, line, message.created_at),
    }


def poll_received_data(poll: Poll, chat: Chat, line: Line) -> JSON:
    return {**poll_status_data(poll, chat, line), "received_at": poll.message.created_at}


def poll_failed_data(
    poll: Poll, chat: Chat, line: Line, code: int, reason: str, now: datetime
) -> JSON:
    return {
        **_base(poll.message, chat, line),
        "error": {"code": code, "message": reason},
        "failed_at": now,
        "poll": poll_view(poll, chat, line, hide_text=_hidden(line, poll.message.direction.value)),
        "sender_handle": None,  # the send never landed
    }


def poll_updated_data(
    poll: Poll, added: Sequence[PollOption], chat: Chat, line: Line, direction: str
) -> JSON:
    """``poll.updated``: only the added options; ``sender_handle`` is always your line (the
    adder is each option's ``creator_handle``)."""
    return {
        **_base(poll.message, chat, line),
        "direction": direction,
        "added_options": [
            option_view(poll, o, chat, line, hide_text=_hidden(line, direction)) for o in added
        ],
        "sender_handle": handle_view(chat.own_handle, line),
    }


def poll_vote_data(
    poll: Poll, option_id: str, voter: str, chat: Chat, line: Line, direction: str, now: datetime
) -> JSON:
    """``poll.vote.added`` / ``poll.vote.removed``: ``sender_handle`` is the voter."""
    return {
        **_base(poll.message, chat, line),
        "direction": direction,
        "option_id": option_id,
        "sender_handle": participant_view(chat, voter, line, now),
    }
