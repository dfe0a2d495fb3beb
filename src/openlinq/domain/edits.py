"""Editing and deleting messages.

The edit rule (one module owns it): only text parts of messages you sent over
iMessage, at most ``MAX_EDITS`` times, within ``EDIT_WINDOW`` of the send.
Deleting removes a message from the API only: recipients still see it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from openlinq.domain.actions import CarrierActions
from openlinq.domain.chats import chat_and_line, require_usable
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.ids import new_id
from openlinq.domain.messages import owned_message
from openlinq.domain.models import Account, Chat, Edit, Line, Message, Reaction, Service
from openlinq.domain.parts import MAX_TEXT_LENGTH
from openlinq.domain.views import handle_view, health_view, sender_handle
from openlinq.store.unit import Storage

MAX_EDITS = 5
EDIT_WINDOW = timedelta(minutes=15)


def check_edit(
    message: Message, part_index: int, text: str, previous_edits: int, now: datetime
) -> None:
    """Raise unless ``message`` may get this edit now."""
    if not message.is_from_me:
        raise LinqError(ErrorCode.ACCESS_DENIED, "only messages you sent can be edited")
    if not 0 <= part_index < len(message.parts):
        raise LinqError(
            ErrorCode.INVALID_PARAMETER, f"part_index must be below {len(message.parts)}"
        )
    if message.parts[part_index]["type"] != "text":
        raise LinqError(ErrorCode.INVALID_PARAMETER, "only text parts can be edited")
    if not text or len(text) > MAX_TEXT_LENGTH:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER, f"text must have 1 to {MAX_TEXT_LENGTH} characters"
        )
    if message.service is not Service.IMESSAGE:
        raise LinqError(
            ErrorCode.CHAT_SERVICE_NOT_SUPPORTED, "only iMessage messages can be edited"
        )
    if previous_edits >= MAX_EDITS:
        raise LinqError(ErrorCode.STATE_CONFLICT, f"a message can be edited {MAX_EDITS} times")
    if now - (message.sent_at or message.created_at) > EDIT_WINDOW:
        raise LinqError(
            ErrorCode.STATE_CONFLICT, "messages can only be edited within 15 minutes of sending"
        )


class EditService:
    def __init__(
        self, storage: Storage, clock: Clock, events: EventLog, actions: CarrierActions
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        self.actions = actions

    async def edit(
        self, account: Account, message_id: str, text: str, part_index: int
    ) -> tuple[Message, Chat, Line, list[Reaction]]:
        """The edited message as it was committed, so the answer needs no read after the
        commit (a failed read would turn an applied edit into an error the client retries)."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            message = await owned_message(repos, account, message_id)
            chat, line = await chat_and_line(repos, account, message.chat_id)
            require_usable(chat, line)
            previous = (await repos.messages.edits([message.id])).get(message.id, [])
            check_edit(message, part_index, text, len(previous), now)
            parts = [dict(p) for p in message.parts]
            edit = Edit(new_id(), message.id, part_index, parts[part_index]["value"], text, now)
            parts[part_index] = {**parts[part_index], "value": text}
            await repos.messages.record_edit(edit, parts)
            edited = replace(message, parts=tuple(parts), updated_at=now)
            reactions = (await repos.messages.reactions_for([message.id])).get(message.id, [])
            sender = sender_handle(edited, chat)
            await self.events.record(
                repos,
                account.id,
                "message.edited",
                {
                    "id": message.id,
                    "chat": {
                        "id": chat.id,
                        "health_status": health_view(chat),
                        "is_group": chat.is_group,
                        "owner_handle": handle_view(chat.own_handle, line),
                    },
                    "direction": message.direction.value,
                    "edited_at": now,
                    # Zero retention: an outbound edit's text is not in the event (§7.3).
                    "part": {"index": part_index, "text": "" if line.zero_retention else text},
                    "sender_handle": handle_view(sender, line) if sender else None,
                    **({"zero_retention": True} if line.zero_retention else {}),
                },
                phone_number=line.phone_number,
                now=now,
            )
            await self.actions.schedule(
                repos,
                chat,
                line,
                "message_edited",
                {"message_id": message.id, "part_index": part_index, "text": text},
            )
        return edited, chat, line, reactions

    async def delete(self, account: Account, message_id: str) -> None:
        async with self.storage.write() as repos:
            message = await owned_message(repos, account, message_id)
            await repos.messages.mark_deleted(message.id, self.clock.now())
