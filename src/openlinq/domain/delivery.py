"""What happens to a message after it is accepted: the carriers' entry points.

Every method here is one transaction that moves state forward and records the
event that says so. Transitions are monotonic and guarded, so a receipt that
arrives twice or late changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from openlinq.domain import activity, health, optout
from openlinq.domain.blocking import drop_if_blocked
from openlinq.domain.chats import group_update_failed, open_chat, update_group
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.groups import drop, join
from openlinq.domain.ids import AccountId, ChatId, LineId, MessageId, new_id
from openlinq.domain.lines import record_gateway_health
from openlinq.domain.links import Links
from openlinq.domain.models import (
    Chat,
    ChatHealth,
    DeliveryStatus,
    Direction,
    HandleStatus,
    Line,
    Message,
    Reaction,
    ReplyTo,
    Service,
)
from openlinq.domain.poll_options import check_options, new_options
from openlinq.domain.poll_views import poll_failed_data, poll_received_data, poll_status_data
from openlinq.domain.reactions import (
    TAPBACKS,
    check_device_reaction,
    reaction_event_data,
    reaction_event_type,
)
from openlinq.domain.retention import expiry
from openlinq.domain.views import (
    background_view,
    handle_view,
    message_event_view,
    opt_change_view,
)
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

_S = DeliveryStatus
SENDABLE = (_S.PENDING, _S.QUEUED)
AFTER_SEND = (_S.PENDING, _S.QUEUED, _S.SENT)
BEFORE_READ = (_S.PENDING, _S.QUEUED, _S.SENT, _S.DELIVERED)
# A delivery receipt can follow a failure ("in rare cases" on the platform).
DELIVERABLE = (*AFTER_SEND, _S.FAILED)


class DeliveryRecorder:
    def __init__(self, storage: Storage, clock: Clock, events: EventLog, links: Links) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        self.links = links

    async def _message_context(
        self, repos: Repos, message_id: MessageId
    ) -> tuple[Message, Chat, Line]:
        message = await repos.messages.get_any(message_id)
        if message is None:
            raise LookupError(f"message {message_id} does not exist")
        return (message, *await self._chat_and_line(repos, message))

    @staticmethod
    async def _chat_and_line(repos: Repos, message: Message) -> tuple[Chat, Line]:
        found = await repos.chats.with_line_any(message.chat_id)
        assert found is not None, "a message always belongs to a chat, and a chat to a line"
        return found

    async def _advance(
        self,
        message_id: MessageId,
        status: DeliveryStatus,
        only_from: tuple[DeliveryStatus, ...],
        event_type: str,
        timestamps: dict[str, datetime],
        within: Repos | None,
    ) -> bool:
        now = self.clock.now()
        async with self._transaction(within) as repos:
            message = await repos.messages.set_status(
                message_id, status, now, only_from=only_from, **timestamps
            )
            if message is None:
                return False
            chat, line = await self._chat_and_line(repos, message)
            if message.is_poll:  # poll.sent / poll.delivered / poll.read
                event_type = event_type.replace("message.", "poll.", 1)
                data = poll_status_data(await repos.polls.of(message), chat, line)
            else:
                data = message_event_view(message, chat, line, self.links)
            await self.events.record(
                repos, chat.account_id, event_type, data, phone_number=line.phone_number, now=now
            )
            activity.outbound_status(repos, message, chat, status.value)
        return True

    @asynccontextmanager
    async def _transaction(self, within: Repos | None) -> AsyncIterator[Repos]:
        """The caller's transaction when it passes one (a carrier batching its writes)."""
        if within is not None:
            yield within
            return
        async with self.storage.write() as repos:
            yield repos

    async def sent(self, message_id: MessageId, *, within: Repos | None = None) -> bool:
        now = self.clock.now()
        return await self._advance(
            message_id, _S.SENT, SENDABLE, "message.sent", {"sent_at": now}, within
        )

    async def delivered(self, message_id: MessageId, *, within: Repos | None = None) -> bool:
        now = self.clock.now()
        return await self._advance(
            message_id,
            _S.DELIVERED,
            DELIVERABLE,
            "message.delivered",
            {"delivered_at": now},
            within,
        )

    async def read(self, message_id: MessageId) -> bool:
        now = self.clock.now()
        return await self._advance(
            message_id, _S.READ, BEFORE_READ, "message.read", {"read_at": now}, None
        )

    async def failed(
        self, message_id: MessageId, code: ErrorCode, reason: str, *, within: Repos | None = None
    ) -> bool:
        now = self.clock.now()
        async with self._transaction(within) as repos:
            message = await repos.messages.set_status(
                message_id,
                _S.FAILED,
                now,
                only_from=AFTER_SEND,
                failed_at=now,
                error_code=code.code,
                error_reason=reason,
            )
            if message is None:
                return False
            chat, line = await self._chat_and_line(repos, message)
            await health.refresh(repos, chat, now)
            activity.outbound_status(
                repos, message, chat, "failed", (str(code.code), activity.quoted(reason))
            )
            if message.is_poll:
                poll = await repos.polls.of(message)
                await self.events.record(
                    repos,
                    chat.account_id,
                    "poll.failed",
                    poll_failed_data(poll, chat, line, code.code, reason, now),
                    phone_number=line.phone_number,
                    now=now,
                )
                return True
            await self.events.record(
                repos,
                chat.account_id,
                "message.failed",
                {
                    "code": code.code,
                    "failed_at": now,
                    "chat_id": chat.id,
                    "message_id": message.id,
                    "reason": reason,
                    "preferred_service": message.preferred_service.value
                    if message.preferred_service
                    else None,
                    "service": message.service.value,
                },
                phone_number=line.phone_number,
                now=now,
            )
        return True

    async def inbound_message(
        self,
        account_id: AccountId,
        line_number: str,
        sender: str,
        parts: list[dict[str, Any]],
        service: Service,
        chat_id: ChatId | None = None,
        reply_to: MessageId | None = None,
        poll_options: Sequence[str] | None = None,
    ) -> Message | None:
        """A message from ``sender`` to one of the account's lines (None: dropped, blocked);
        with ``poll_options``, a poll (no parts) created by ``sender``."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            line = await repos.lines.by_number(account_id, line_number)
            if line is None:
                raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{line_number} is not your line")
            if await drop_if_blocked(
                repos,
                account_id,
                line_number,
                sender,
                chat_id=chat_id,
                kind="message",
                summary=activity.parts_summary(parts),
                clock=self.clock,
            ):
                return None
            chat = await self._inbound_chat(repos, line, sender, service, chat_id, now)
            account = await repos.accounts.get(account_id)
            assert account is not None, "a line's account exists"
            message = Message(
                id=MessageId(new_id()),
                account_id=account_id,
                chat_id=chat.id,
                direction=Direction.INBOUND,
                sender_handle=sender,
                parts=tuple(parts),
                effect=None,
                reply_to=None,
                preferred_service=None,
                service=service,
                delivery_status=_S.RECEIVED,
                idempotency_key=None,
                created_at=now,
                updated_at=now,
                sent_at=now,
                expires_at=expiry(account, line, now),
                send_meta={"poll": True} if poll_options is not None else {},
            )
            if reply_to is not None:
                target = await repos.messages.get(account_id, reply_to)
                if target is None or target.chat_id != chat.id:
                    raise LinqError(ErrorCode.MESSAGE_NOT_FOUND, "reply_to is not in this chat")
                message = replace(
                    message,
                    reply_to=ReplyTo(reply_to, 0),
                    thread_root_id=target.thread_root_id or target.id,
                )
            await repos.messages.add(message)
            if poll_options is not None:
                await repos.polls.add_options(
                    new_options(message.id, check_options(poll_options), sender, 0, now)
                )
            await repos.chats.record_activity(chat.id, None, now)
            opted = await optout.on_inbound(repos, chat, sender, parts, now)
            if opted is None:
                await health.refresh(repos, chat, now)
            chat = await repos.chats.get_any(chat.id) or chat  # with its new health
            activity.inbound(
                repos,
                sender,
                chat,
                activity.parts_summary(parts),
                message_id=message.id,
                line=line.phone_number,
                service=service.value,
            )
            if poll_options is not None:
                event_type = "poll.received"
                data = poll_received_data(await repos.polls.of(message), chat, line)
            else:
                event_type = "message.received"
                data = message_event_view(message, chat, line, self.links)
            await self.events.record(
                repos, account_id, event_type, data, phone_number=line.phone_number, now=now
            )
            if opted is not None:
                out = opted is ChatHealth.OPTED_OUT
                await self.events.record(
                    repos,
                    account_id,
                    "message.opt_out" if out else "message.opt_in",
                    opt_change_view(message, line, optout.opt_out_keyword(parts), now),
                    phone_number=line.phone_number,
                    now=now,
                )
        return message

    async def _inbound_chat(
        self,
        repos: Repos,
        line: Line,
        sender: str,
        service: Service,
        chat_id: ChatId | None,
        now: datetime,
    ) -> Chat:
        if chat_id is not None:
            chat = await repos.chats.get(line.account_id, chat_id)
            if chat is None or chat.line_id != line.id:
                raise LinqError(ErrorCode.CHAT_NOT_FOUND)
            if not any(h.handle == sender and not h.is_me for h in chat.handles):
                raise LinqError(ErrorCode.ACCESS_DENIED, f"{sender} is not in chat {chat_id}")
            return chat
        existing = await repos.chats.direct_chat(line.account_id, line.id, sender)
        if existing is not None:
            return existing
        return await open_chat(repos, self.events, line, [(sender, service)], service, now)

    async def inbound_read(self, account_id: AccountId, chat_id: ChatId) -> int:
        """The device read the chat: every delivered outbound message becomes read."""
        async with self.storage.read() as repos:
            pending = await repos.messages.outbound_awaiting_read(chat_id)
        count = 0
        for message in pending:
            if message.account_id == account_id and await self.read(message.id):
                count += 1
        return count

    async def gateway_health(self, line_id: LineId, reachable: bool) -> bool:
        """The line's gateway answered its probe or did not (domain/lines.py)."""
        async with self.storage.write() as repos:
            return await record_gateway_health(
                self.events, repos, line_id, reachable, self.clock.now()
            )

    async def line_read(self, account_id: AccountId, chat_id: ChatId) -> int:
        """Your line read the chat on the gateway's own device: its unread inbound messages
        become read, as ``POST /v3/chats/{id}/read`` makes them (no event either)."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat = await repos.chats.get(account_id, chat_id)
            if chat is None:
                return 0
            unread = await repos.messages.unread_inbound(chat.id)
            await repos.messages.mark_read([m.id for m in unread], now)
        return len(unread)

    async def inbound_group_renamed(
        self, account_id: AccountId, chat_id: ChatId, actor: str | None, name: str
    ) -> bool:
        """A member (``actor``; None: your line, from the gateway's own device) renamed the
        group: ``chat.group_name_updated`` as for a rename through the API. The name it
        already has changes nothing (your own rename, reported back by the gateway)."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            found = await repos.chats.with_line(account_id, chat_id)
            if found is None or not found[0].is_group or found[0].display_name == name:
                return False
            chat, line = found
            member = next((h for h in chat.recipients if h.handle == actor), None)
            by = handle_view(member) if member else handle_view(chat.own_handle, line)
            await update_group(self.events, repos, chat, line, {"display_name": name}, by, now)
        return True

    async def group_update_failed(
        self, account_id: AccountId, chat_id: ChatId, field: str, code: ErrorCode
    ) -> None:
        """The carrier could not give the group its new name or icon (``field``:
        ``display_name`` / ``group_icon``), already stored and announced."""
        async with self.storage.write() as repos:
            found = await repos.chats.with_line(account_id, chat_id)
            if found is not None:
                chat, line = found
                now = self.clock.now()
                await group_update_failed(self.events, repos, chat, line, {field}, code.code, now)

    async def inbound_group_icon(
        self, account_id: AccountId, chat_id: ChatId, actor: str, icon_url: str | None
    ) -> bool:
        """A member set the group's photo (``icon_url``: where openlinq keeps it) or removed
        it (None): ``chat.group_icon_updated``, as for a change through the API."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            found = await repos.chats.with_line(account_id, chat_id)
            if found is None or not found[0].is_group or found[0].group_icon == icon_url:
                return False
            chat, line = found
            member = next((h for h in chat.recipients if h.handle == actor), None)
            if member is None:
                return False
            changes = {"group_icon": icon_url}
            await update_group(self.events, repos, chat, line, changes, handle_view(member), now)
        return True

    async def inbound_member_joined(
        self, account_id: AccountId, chat_id: ChatId, handle: str
    ) -> bool:
        """``handle`` was added to the group outside the API (by a member, or on the
        gateway's device): ``participant.added``. A member already in changes nothing."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            found = await repos.chats.with_line(account_id, chat_id)
            if found is None or not found[0].is_group:
                return False
            chat, line = found
            if any(h.handle == handle for h in chat.handles if h.status is HandleStatus.ACTIVE):
                return False
            await join(self.events, repos, chat, line, handle, now)
        return True

    async def inbound_member_gone(
        self, account_id: AccountId, chat_id: ChatId, handle: str, *, left: bool
    ) -> bool:
        """``handle`` left the group on their phone (``left``) or a member removed them:
        ``participant.removed`` with their status. One already out changes nothing."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            found = await repos.chats.with_line(account_id, chat_id)
            if found is None or not found[0].is_group:
                return False
            chat, line = found
            member = next((h for h in chat.recipients if h.handle == handle), None)
            if member is None:
                return False
            status = HandleStatus.LEFT if left else HandleStatus.REMOVED
            await drop(self.events, repos, chat, line, member, status, now)
        return True

    async def inbound_reaction(
        self,
        account_id: AccountId,
        message_id: MessageId,
        sender: str,
        reaction_type: str,
        custom_emoji: str | None = None,
        part_index: int = 0,
        *,
        remove: bool = False,
        sticker: dict[str, Any] | None = None,
    ) -> None:
        """A device adds (replacing its earlier tapback on that part) or removes a reaction;
        a sticker (``sticker`` = ``{"emoji": ...}``) is added and never removed."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            message, chat, line = await self._message_context(repos, message_id)
            if message.account_id != account_id:
                raise LinqError(ErrorCode.MESSAGE_NOT_FOUND)
            if await drop_if_blocked(
                repos,
                account_id,
                line.phone_number,
                sender,
                chat_id=chat.id,
                kind="reaction",
                summary=f"{'removed' if remove else 'reacted'} {custom_emoji or reaction_type}",
                clock=self.clock,
            ):
                return
            check_device_reaction(message, reaction_type, remove)
            replaced = (
                []
                if reaction_type == "sticker"
                else await repos.messages.remove_reactions(
                    message_id, part_index, sender, (reaction_type,) if remove else TAPBACKS
                )
            )
            changes = [("reaction.removed", r) for r in replaced]
            if not remove:
                reaction = Reaction(
                    id=new_id(),
                    message_id=message_id,
                    part_index=part_index,
                    handle=sender,
                    is_me=False,
                    type=reaction_type,
                    custom_emoji=custom_emoji,
                    created_at=now,
                    sticker=sticker,
                )
                await repos.messages.add_reaction(reaction)
                changes.append((reaction_event_type(message), reaction))
            if remove:
                activity.inbound(repos, sender, chat, f"removed {reaction_type}")
            else:
                activity.inbound(
                    repos,
                    sender,
                    chat,
                    f"reacted {custom_emoji or (sticker or {}).get('emoji') or reaction_type}",
                    message_id=message_id,
                )
            for event_type, changed in changes:
                await self.events.record(
                    repos,
                    account_id,
                    event_type,
                    reaction_event_data(message, chat, changed, now, self.links),
                    phone_number=line.phone_number,
                    now=now,
                )

    async def inbound_typing(
        self, account_id: AccountId, chat_id: ChatId, sender: str, started: bool
    ) -> None:
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat = await repos.chats.get(account_id, chat_id)
            if chat is None:
                raise LinqError(ErrorCode.CHAT_NOT_FOUND)
            line = await repos.lines.get(account_id, chat.line_id)
            if await repos.blocked.blocked(account_id, [sender]):
                return  # a blocked handle's typing is dropped unrecorded: it says nothing
            actor = next((h for h in chat.handles if h.handle == sender), None)
            suffix = "started" if started else "stopped"
            activity.inbound(repos, sender, chat, "typing…" if started else "stopped typing")
            await self.events.record(
                repos,
                account_id,
                f"chat.typing_indicator.{suffix}",
                {"chat_id": chat.id, "actor_handle": handle_view(actor) if actor else None},
                phone_number=line.phone_number if line else None,
                now=now,
            )

    async def background_applied(
        self,
        account_id: AccountId,
        chat_id: ChatId,
        background: dict[str, Any] | None,
        actor: str | None = None,
    ) -> None:
        """The chat's devices show ``background`` (None: the default), set by your line or by
        the participant ``actor``."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            found = await repos.chats.with_line(account_id, chat_id)
            if found is None:
                return
            chat, line = found
            await repos.chats.set_background(chat.id, background, now)
            own = handle_view(chat.own_handle, line)
            by = next((h for h in chat.handles if h.handle == actor), None) if actor else None
            await self.events.record(
                repos,
                account_id,
                "chat.background_updated",
                {
                    "chat": {"id": chat.id, "is_group": chat.is_group, "owner_handle": own},
                    "actor_handle": handle_view(by) if by else own,
                    "background": background_view(background, self.links),
                },
                phone_number=line.phone_number,
                now=now,
            )

    async def background_failed(self, account_id: AccountId, chat_id: ChatId, code: int) -> None:
        """The background could not be applied (``code``: 1005, 2011, 4001 or 5002)."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            found = await repos.chats.with_line(account_id, chat_id)
            if found is None:
                return
            _, line = found
            await self.events.record(
                repos,
                account_id,
                "chat.background_update_failed",
                {"chat_id": chat_id, "error_code": code, "failed_at": now},
                phone_number=line.phone_number,
                now=now,
            )
