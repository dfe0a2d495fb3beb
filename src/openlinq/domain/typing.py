"""Outbound typing indicators.

Direct chats only (groups answer 403). A typing call reaches the device only
when the chat is active — a message within the last ``ACTIVE_WINDOW`` — and
only over iMessage; otherwise it is accepted and dropped, as on the platform.
"""

from __future__ import annotations

from datetime import timedelta

from openlinq.domain.actions import CarrierActions
from openlinq.domain.chats import chat_and_line, require_usable
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.models import Account, Service
from openlinq.store.unit import Storage

ACTIVE_WINDOW = timedelta(minutes=5)


class TypingService:
    def __init__(self, storage: Storage, clock: Clock, actions: CarrierActions) -> None:
        self.storage = storage
        self.clock = clock
        self.actions = actions

    async def set(self, account: Account, chat_id: str, *, typing: bool) -> bool:
        """Returns whether the indicator was passed on to the devices."""
        async with self.storage.write() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            if chat.is_group:
                raise LinqError(
                    ErrorCode.ACCESS_DENIED, "typing indicators are not supported in group chats"
                )
            require_usable(chat, line)
            active = self.clock.now() - chat.last_activity_at <= ACTIVE_WINDOW
            if chat.service is not Service.IMESSAGE or not active:
                return False
            kind = "typing_started" if typing else "typing_stopped"
            await self.actions.schedule(repos, chat, line, kind, {})
        return True
