"""Blocked handles: the account's block list and what it stops.

A blocked handle gets no direct sends (403 / 2026, before anything is written); a group
send goes ahead while at least one member is not blocked. What a blocked handle sends
(messages, reactions) is dropped: no chat opens, nothing is stored on a chat and no
webhook fires; each dropped item is recorded for the operator (the console's Phones page,
``GET /sim/v1/dropped``, ``openlinq sim dropped``).
"""

from __future__ import annotations

from openlinq.domain import activity
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.handles import parse_blockable
from openlinq.domain.ids import AccountId, new_id
from openlinq.domain.models import Account, Chat
from openlinq.store.repos import Repos
from openlinq.store.repos.blocked import BlockedHandle, DroppedInbound
from openlinq.store.unit import Storage

MAX_REASON = 500
# How many dropped items the operator's views show, and how many an account keeps.
DROPPED_SHOWN = 100
DROPPED_KEPT = 1_000


async def refuse_blocked(repos: Repos, chat: Chat) -> None:
    """403 / 2026 for a direct send to a blocked handle, or a group send to no one else."""
    handles = [h.handle for h in chat.recipients]
    blocked = await repos.blocked.blocked(chat.account_id, handles)
    if not blocked or (chat.is_group and len(set(blocked)) < len(set(handles))):
        return
    raise LinqError(
        ErrorCode.RECIPIENT_BLOCKED,
        f"{blocked[0]} is blocked; unblock it to send"
        if not chat.is_group
        else "every member of this group is blocked",
        retryable=False,
    )


async def drop_if_blocked(
    repos: Repos,
    account_id: AccountId,
    line_number: str,
    sender: str,
    *,
    chat_id: str | None,
    kind: str,
    summary: str,
    clock: Clock,
) -> bool:
    """Record and drop inbound ``kind`` from a blocked sender; False when not blocked."""
    if not await repos.blocked.blocked(account_id, [sender]):
        return False
    await repos.blocked.record_dropped(
        account_id,
        DroppedInbound(new_id(), sender, line_number, chat_id, kind, summary, clock.now()),
        keep=DROPPED_KEPT,
    )
    activity.dropped(repos, sender, line_number, kind, summary)
    return True


class BlockingService:
    def __init__(self, storage: Storage, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock

    async def entries(self, account: Account) -> list[BlockedHandle]:
        """Newest first."""
        async with self.storage.read() as repos:
            return await repos.blocked.all(account.id)

    async def block(
        self, account: Account, raw_handle: str, reason: str | None
    ) -> tuple[BlockedHandle, bool]:
        """The entry, and whether it is new (blocking again returns the existing one)."""
        handle = parse_blockable(raw_handle)
        if reason is not None and len(reason) > MAX_REASON:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER, f"reason is at most {MAX_REASON} characters"
            )
        async with self.storage.write() as repos:
            await repos.locks.hold(f"block:{account.id}:{handle}")
            existing = await repos.blocked.get(account.id, handle)
            if existing is not None:
                return existing, False
            entry = BlockedHandle(handle, reason or None, self.clock.now())
            await repos.blocked.add(account.id, entry)
        return entry, True

    async def unblock(self, account: Account, raw_handle: str) -> None:
        """Unblocking a handle that is not blocked changes nothing (and is no error)."""
        handle = parse_blockable(raw_handle)
        async with self.storage.write() as repos:
            await repos.blocked.remove(account.id, handle)

    async def dropped(self, account: Account, limit: int = DROPPED_SHOWN) -> list[DroppedInbound]:
        async with self.storage.read() as repos:
            return await repos.blocked.dropped(account.id, limit)
