"""Group membership: adding and removing participants, and leaving.

Counts include your own line. Adding needs a group (3+ active members) and a
new member who can receive the group's service; removing must leave 3+;
leaving is for iMessage groups of 4+. A changed member set gives the chat a new
recipient key, so POST /v3/chats with the old set opens a new chat.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from openlinq.delivery.carrier import Carrier
from openlinq.domain.actions import CarrierActions
from openlinq.domain.chats import chat_and_line, require_usable
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.handles import parse_handle, recipient_key
from openlinq.domain.ids import HandleId, new_id
from openlinq.domain.models import Account, Chat, ChatHandle, HandleStatus, Line, Service
from openlinq.domain.views import handle_view
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

MIN_GROUP = 3
MIN_TO_LEAVE = 4
MAX_GROUP = 32  # 31 recipients and your line


def _active(chat: Chat) -> list[ChatHandle]:
    return [h for h in chat.handles if h.status is HandleStatus.ACTIVE]


def _require_group(chat: Chat) -> None:
    if not chat.is_group or len(_active(chat)) < MIN_GROUP:
        raise LinqError(ErrorCode.DIRECT_CHAT_NOT_UPDATABLE, "this works in group chats only")


def _require_leavable(chat: Chat, too_small: str) -> None:
    """Your line and a member alike can leave only iMessage groups of MIN_TO_LEAVE or more."""
    if chat.service is not Service.IMESSAGE:
        raise LinqError(ErrorCode.CHAT_SERVICE_NOT_SUPPORTED, "only iMessage groups can be left")
    if len(_active(chat)) < MIN_TO_LEAVE:
        raise LinqError(ErrorCode.STATE_CONFLICT, too_small)


async def _usable_group(repos: Repos, account: Account, chat_id: str) -> tuple[Chat, Line]:
    chat, line = await chat_and_line(repos, account, chat_id)
    _require_group(chat)
    require_usable(chat, line)
    return chat, line


class GroupService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        events: EventLog,
        actions: CarrierActions,
        carrier: Carrier,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        self.actions = actions
        self.carrier = carrier

    async def add(self, account: Account, chat_id: str, raw_handle: str) -> None:
        handle = parse_handle(raw_handle, "handle").value
        capabilities = await self.carrier.capabilities(account.id, handle)
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat, line = await _usable_group(repos, account, chat_id)
            active = _active(chat)
            if any(h.handle == handle for h in active):
                raise LinqError(ErrorCode.STATE_CONFLICT, f"{handle} is already in this chat")
            if len(active) >= MAX_GROUP:
                raise LinqError(
                    ErrorCode.INVALID_PARAMETER, f"a group has at most {MAX_GROUP} members"
                )
            if chat.service not in capabilities:
                raise LinqError(
                    ErrorCode.CHAT_SERVICE_NOT_SUPPORTED,
                    f"{handle} cannot receive {chat.service.value}; start a new chat instead",
                )
            await join(self.events, repos, chat, line, handle, now)
            await self.actions.schedule(repos, chat, line, "participant_added", {"handle": handle})

    async def remove(self, account: Account, chat_id: str, raw_handle: str) -> None:
        handle = parse_handle(raw_handle, "handle").value
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat, line = await _usable_group(repos, account, chat_id)
            member = next((h for h in chat.recipients if h.handle == handle), None)
            if member is None:
                raise LinqError(ErrorCode.STATE_CONFLICT, f"{handle} is not in this chat")
            if len(_active(chat)) - 1 < MIN_GROUP:
                raise LinqError(
                    ErrorCode.STATE_CONFLICT,
                    f"a group keeps at least {MIN_GROUP} members (your line included)",
                )
            await drop(self.events, repos, chat, line, member, HandleStatus.REMOVED, now)
            await self.actions.schedule(
                repos, chat, line, "participant_removed", {"handle": handle}
            )

    async def leave(self, account: Account, chat_id: str) -> None:
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat, line = await _usable_group(repos, account, chat_id)
            _require_leavable(
                chat, f"you can leave groups of {MIN_TO_LEAVE} or more members (your line included)"
            )
            own = chat.own_handle
            await repos.chats.set_member_status(chat.id, own.handle, HandleStatus.LEFT, now)
            await repos.chats.mark_left(chat.id, now)
            gone = replace(own, status=HandleStatus.LEFT, left_at=now)
            await member_event(self.events, repos, chat, line, "participant.removed", gone, now)
            await self.actions.schedule(repos, chat, line, "chat_left", {})

    async def member_left(self, account: Account, chat_id: str, raw_handle: str) -> None:
        """Inbound: a member left the group on their own phone. The carrier reports it, so
        nothing is scheduled back to it; the agent hears ``participant.removed`` with the
        member's status ``left``. The same rule as your own leaving: iMessage groups of 4+."""
        handle = parse_handle(raw_handle, "handle").value
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat, line = await _usable_group(repos, account, chat_id)
            member = next((h for h in _active(chat) if h.handle == handle), None)
            if member is None or member.is_me:
                raise LinqError(ErrorCode.STATE_CONFLICT, f"{handle} is not in this chat")
            _require_leavable(
                chat, f"members can leave groups of {MIN_TO_LEAVE} or more (your line included)"
            )
            await drop(self.events, repos, chat, line, member, HandleStatus.LEFT, now)


async def join(
    events: EventLog, repos: Repos, chat: Chat, line: Line, handle: str, now: datetime
) -> None:
    """``handle`` is in the group now (added by your line, or by a member on their phone):
    new recipients, and the agent hears ``participant.added``."""
    member = ChatHandle(
        id=HandleId(new_id()),
        chat_id=chat.id,
        handle=handle,
        service=chat.service,
        is_me=False,
        status=HandleStatus.ACTIVE,
        joined_at=now,
        left_at=None,
    )
    await repos.chats.add_member(member)
    recipients = [*(h.handle for h in chat.recipients), handle]
    await repos.chats.set_recipients(chat.id, recipient_key(recipients), now)
    await member_event(events, repos, chat, line, "participant.added", member, now)


async def drop(
    events: EventLog,
    repos: Repos,
    chat: Chat,
    line: Line,
    member: ChatHandle,
    status: HandleStatus,
    now: datetime,
) -> None:
    """A member is out (removed, or left on their phone): new recipients, and the agent
    hears ``participant.removed`` with the member's new status."""
    await repos.chats.set_member_status(chat.id, member.handle, status, now)
    remaining = [h.handle for h in chat.recipients if h.handle != member.handle]
    await repos.chats.set_recipients(chat.id, recipient_key(remaining), now)
    gone = replace(member, status=status, left_at=now)
    await member_event(events, repos, chat, line, "participant.removed", gone, now)


async def member_event(
    events: EventLog,
    repos: Repos,
    chat: Chat,
    line: Line,
    event_type: str,
    member: ChatHandle,
    now: datetime,
) -> None:
    stamp = "added_at" if event_type == "participant.added" else "removed_at"
    await events.record(
        repos,
        chat.account_id,
        event_type,
        {
            "handle": member.handle,
            stamp: now,
            "chat_id": chat.id,
            "participant": handle_view(member, line if member.is_me else None),
        },
        phone_number=line.phone_number,
        now=now,
    )
