"""What the console's inbox and conversation pages read, beyond the API's own lists.

The chat list is the API's (same order, same cursor, same ``to`` filter), plus each chat's
last message and unread count, and a text search. A conversation is the API's message page
plus what only a person watching needs: deleted messages (marked, not hidden), edit
histories, the messages replied to, and the contacts' live location shares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from openlinq.domain import cursors
from openlinq.domain.chats import ChatPage, ChatService, chat_and_line
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import ChatId, MessageId
from openlinq.domain.messages import MessagePage, page_of
from openlinq.domain.models import Account, Chat, Edit, Line, Message
from openlinq.store.repos.locations import LocationShare
from openlinq.store.unit import Storage

MAX_SEARCH_TEXT = 200
# A text search looks at this many of the newest matching messages, so its cost is bounded
# however large the account is; older matches are not found (the page says so).
SEARCH_SCAN = 1000
# Everything from a seq on (the live part of an open conversation) is capped too.
MAX_LIVE_MESSAGES = 500


def searchable_text(parts: tuple[dict[str, Any], ...]) -> str:
    """The words of a message a search matches: text, links, cards' captions."""
    words: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        for key in ("value", "fallback_text", "caption", "filename"):
            value = part.get(key)
            if isinstance(value, str):
                words.append(value)
        layout = part.get("layout")
        if isinstance(layout, dict):
            words.extend(v for v in layout.values() if isinstance(v, str))
    return "\n".join(words)


def _needles(term: str) -> list[str]:
    """The term as it appears in the stored JSON: escaped as JSON escapes it, with
    non-ASCII characters kept (PostgreSQL's jsonb text) or as \\u escapes (SQLite)."""
    lowered = term.lower()
    forms = {json.dumps(lowered)[1:-1], json.dumps(lowered, ensure_ascii=False)[1:-1]}
    return sorted(forms)


@dataclass(frozen=True, slots=True)
class ChatSummary:
    chat: Chat
    line: Line
    last: Message | None
    unread: int


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: list[ChatSummary]
    next_cursor: str | None
    searched: bool = False


@dataclass(frozen=True, slots=True)
class Conversation:
    page: MessagePage
    edits: dict[MessageId, list[Edit]]
    replied: dict[MessageId, Message]
    shares: list[LocationShare] = field(default_factory=list)


class InboxService:
    def __init__(self, storage: Storage, clock: Clock, chats: ChatService) -> None:
        self.storage = storage
        self.clock = clock
        self.chats = chats

    async def chats_page(
        self,
        account: Account,
        *,
        to: str | None,
        text: str | None,
        cursor: str | None,
        limit: int,
    ) -> InboxPage:
        only = await self._matching_chats(account, text) if text else None
        if only is not None and not only:
            return InboxPage([], None, searched=True)
        page = await self.chats.page(
            account, from_number=None, to=to, cursor=cursor, limit=limit, only=only
        )
        return InboxPage(await self._summaries(page), page.next_cursor, searched=bool(text))

    async def _matching_chats(self, account: Account, text: str) -> list[ChatId]:
        term = text.strip()
        if len(term) > MAX_SEARCH_TEXT:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER, f"search at most {MAX_SEARCH_TEXT} characters"
            )
        async with self.storage.read() as repos:
            found = await repos.messages.containing(account.id, _needles(term), SEARCH_SCAN)
        wanted = term.casefold()
        chat_ids: dict[ChatId, None] = {}
        for message in found:
            if wanted in searchable_text(message.parts).casefold():
                chat_ids[message.chat_id] = None
        return list(chat_ids)

    async def _summaries(self, page: ChatPage) -> list[ChatSummary]:
        ids = [chat.id for chat, _ in page.chats]
        async with self.storage.read() as repos:
            latest = await repos.messages.latest_in_chats(ids)
            unread = await repos.messages.unread_counts(ids)
        return [
            ChatSummary(chat, line, latest.get(chat.id), unread.get(chat.id, 0))
            for chat, line in page.chats
        ]

    async def conversation(
        self,
        account: Account,
        chat_id: str,
        *,
        cursor: str | None,
        from_seq: int | None,
        limit: int,
    ) -> Conversation:
        """Newest first: a page before ``cursor``, or (``from_seq``) every message from that
        one on, which is what an open conversation reloads as things happen."""
        after = cursors.decode_seq(cursors.MESSAGES, cursor)
        if from_seq is not None:
            after, limit = None, MAX_LIVE_MESSAGES
        async with self.storage.read() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            rows = await repos.messages.page(
                chat.id, after_seq=after, limit=limit + 1, include_deleted=True, from_seq=from_seq
            )
            page = await page_of(repos, chat, line, rows, limit, cursors.MESSAGES)
            ids = [m.id for m in page.messages]
            edits = await repos.messages.edits(ids)
            targets = {m.reply_to.message_id for m in page.messages if m.reply_to}
            replied = await repos.messages.by_ids(account.id, sorted(targets))
            shares = await repos.locations.active(
                line.id, [h.handle for h in chat.recipients], self.clock.now()
            )
        return Conversation(
            page, dict(edits), {m.id: m for m in replied if m.chat_id == chat.id}, shares
        )

    async def chat_info(
        self, account: Account, chat_id: str
    ) -> tuple[Chat, Line, list[LocationShare]]:
        """A chat, its line and the locations its contacts share with that line now."""
        async with self.storage.read() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            shares = await repos.locations.active(
                line.id, [h.handle for h in chat.recipients], self.clock.now()
            )
        return chat, line, shares
