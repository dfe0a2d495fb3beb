"""Chats: creation records, reading, listing, renaming, marking read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openlinq.domain import cursors
from openlinq.domain.actions import CarrierActions
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.handles import parse_handle, parse_phone, recipient_key
from openlinq.domain.ids import ChatId, HandleId, new_id
from openlinq.domain.models import (
    Account,
    Chat,
    ChatHandle,
    ChatHealth,
    HandleStatus,
    Line,
    Service,
)
from openlinq.domain.views import chat_view, handle_view
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

MAX_DISPLAY_NAME = 255


def new_chat(
    line: Line,
    recipients: list[tuple[str, Service]],
    service: Service,
    now: datetime,
) -> Chat:
    """A fresh chat record: the line's own handle first, then each recipient."""
    chat_id = ChatId(new_id())

    def member(handle: str, handle_service: Service, is_me: bool) -> ChatHandle:
        return ChatHandle(
            id=HandleId(new_id()),
            chat_id=chat_id,
            handle=handle,
            service=handle_service,
            is_me=is_me,
            status=HandleStatus.ACTIVE,
            joined_at=now,
            left_at=None,
        )

    return Chat(
        id=chat_id,
        account_id=line.account_id,
        line_id=line.id,
        is_group=len(recipients) > 1,
        service=service,
        display_name=None,
        group_icon=None,
        health=ChatHealth.HEALTHY,
        health_updated_at=now,
        recipient_key=recipient_key([h for h, _ in recipients]),
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        handles=(
            member(line.phone_number, service, True),
            *(member(h, s, False) for h, s in recipients),
        ),
    )


async def open_chat(
    repos: Repos,
    events: EventLog,
    line: Line,
    members: list[tuple[str, Service]],
    service: Service,
    now: datetime,
) -> Chat:
    """Store a new chat and record its ``chat.created`` event."""
    chat = new_chat(line, members, service, now)
    await repos.chats.add(chat)
    await events.record(
        repos,
        line.account_id,
        "chat.created",
        chat_created_view(chat, line),
        phone_number=line.phone_number,
        now=now,
    )
    return chat


def chat_created_view(chat: Chat, line: Line) -> dict[str, Any]:
    """``chat.created`` data: the chat as GET returns it, less two deprecated fields."""
    view = chat_view(chat, line)
    del view["is_archived"], view["group_chat_icon"]
    return view


@dataclass(frozen=True, slots=True)
class ChatPage:
    chats: list[tuple[Chat, Line]]
    next_cursor: str | None


async def chat_and_line(repos: Repos, account: Account, chat_id: str) -> tuple[Chat, Line]:
    """A chat the account owns and its line; anything else is 404, owned or not."""
    found = await repos.chats.with_line(account.id, ChatId(chat_id))
    if found is None:
        raise LinqError(ErrorCode.CHAT_NOT_FOUND, f"chat {chat_id} not found")
    chat, line = found
    assert line.account_id == account.id, "a chat's line belongs to the chat's account"
    return chat, line


def require_usable(chat: Chat, line: Line) -> None:
    """New activity needs a chat the line is still in, on a line that may send."""
    if chat.own_handle.status is not HandleStatus.ACTIVE:
        raise LinqError(ErrorCode.CHAT_UNAVAILABLE, "your line has left this chat")
    if not line.can_send:
        raise LinqError(
            ErrorCode.LINE_INELIGIBLE,
            f"{line.phone_number} is temporarily ineligible to send",
        )


class ChatService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        events: EventLog,
        actions: CarrierActions | None = None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        # A new name or icon must reach the chat's devices too (a real carrier renames the
        # group on them; the simulator's devices read it from the chat).
        self.actions = actions

    async def get(self, account: Account, chat_id: str) -> tuple[Chat, Line]:
        async with self.storage.read() as repos:
            return await chat_and_line(repos, account, chat_id)

    async def page(
        self,
        account: Account,
        *,
        from_number: str | None,
        to: str | None,
        cursor: str | None,
        limit: int,
        only: list[ChatId] | None = None,
    ) -> ChatPage:
        after = cursors.decode_moment_seq(cursors.CHATS, cursor)
        async with self.storage.read() as repos:
            line_id = None
            if from_number is not None:
                line = await repos.lines.by_number(account.id, parse_phone(from_number, "from"))
                if line is None:
                    return ChatPage([], None)
                line_id = line.id
            participant = parse_handle(to, "to").value if to is not None else None
            rows = await repos.chats.page(
                account.id,
                line_id=line_id,
                participant=participant,
                after=after,
                limit=limit + 1,
                only=only,
            )
            lines = {line.id: line for line in await repos.lines.of_account(account.id)}
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = cursors.encode_moment_seq(cursors.CHATS, *rows[-1][1]) if more else None
        return ChatPage([(chat, lines[chat.line_id]) for chat, _ in rows], next_cursor)

    async def update(
        self,
        account: Account,
        chat_id: str,
        *,
        display_name: str | None,
        group_chat_icon: str | None,
    ) -> Chat:
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            if not chat.is_group:
                raise LinqError(ErrorCode.DIRECT_CHAT_NOT_UPDATABLE)
            require_usable(chat, line)
            changes = {"display_name": display_name, "group_icon": group_chat_icon}
            changes = {k: v for k, v in changes.items() if v is not None}
            if not changes:
                raise LinqError(
                    ErrorCode.MISSING_REQUIRED_FIELD, "give display_name or group_chat_icon"
                )
            if line.sim_group_update_error is not None:
                # The simulator made this line's group updates fail: nothing changes,
                # the agent learns it from the failure events.
                code = line.sim_group_update_error
                await group_update_failed(self.events, repos, chat, line, set(changes), code, now)
                return chat
            by = handle_view(chat.own_handle, line)
            await update_group(self.events, repos, chat, line, changes, by, now)
            if self.actions is not None:
                if "display_name" in changes:
                    name = {"name": changes["display_name"]}
                    await self.actions.schedule(repos, chat, line, "group_renamed", name)
                if "group_icon" in changes:
                    icon = {"url": changes["group_icon"]}
                    await self.actions.schedule(repos, chat, line, "group_icon_changed", icon)
        return chat

    async def mark_read(self, account: Account, chat_id: str) -> int:
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            require_usable(chat, line)
            unread = await repos.messages.unread_inbound(chat.id)
            await repos.messages.mark_read([m.id for m in unread], now)
            if self.actions is not None:
                # The line's devices read it too (BlueBubbles: the Mac marks the chat read).
                await self.actions.schedule(repos, chat, line, "chat_read", {})
        return len(unread)


async def update_group(
    events: EventLog,
    repos: Repos,
    chat: Chat,
    line: Line,
    changes: dict[str, Any],
    by: dict[str, Any],
    now: datetime,
) -> None:
    """Store a group's new name and/or icon (``changes``); the agent hears
    ``chat.group_name_updated`` / ``chat.group_icon_updated`` naming who changed it."""
    clear_icon = "group_icon" in changes and changes["group_icon"] is None  # removed on a phone
    await repos.chats.update_group(chat.id, now=now, clear_icon=clear_icon, **changes)
    for field, event_type in (
        ("display_name", "chat.group_name_updated"),
        ("group_icon", "chat.group_icon_updated"),
    ):
        if field in changes:
            await events.record(
                repos,
                chat.account_id,
                event_type,
                {
                    "chat_id": chat.id,
                    "updated_at": now,
                    "changed_by_handle": by,
                    "old_value": getattr(chat, field),
                    "new_value": changes[field],
                },
                phone_number=line.phone_number,
                now=now,
            )


async def group_update_failed(
    events: EventLog,
    repos: Repos,
    chat: Chat,
    line: Line,
    fields: set[str],
    code: int,
    now: datetime,
) -> None:
    """The chat's devices did not take its new name / icon (``fields``): the agent hears
    ``chat.group_name_update_failed`` / ``chat.group_icon_update_failed`` with ``code``."""
    failure = {"chat_id": chat.id, "error_code": code, "failed_at": now}
    for field, event_type in (
        ("display_name", "chat.group_name_update_failed"),
        ("group_icon", "chat.group_icon_update_failed"),
    ):
        if field in fields:
            await events.record(
                repos, chat.account_id, event_type, failure, phone_number=line.phone_number, now=now
            )


def check_account_line(line: Line | None, number: str) -> Line:
    if line is None:
        raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{number} is not one of your phone numbers")
    return line
