"""Reading messages: one message, a chat's messages, a reply thread."""

from __future__ import annotations

from dataclasses import dataclass

from openlinq.domain import cursors
from openlinq.domain.chats import chat_and_line
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import MessageId, is_uuid
from openlinq.domain.models import Account, Chat, Line, Message, Reaction
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage


@dataclass(frozen=True, slots=True)
class MessagePage:
    chat: Chat
    line: Line
    messages: list[Message]
    reactions: dict[MessageId, list[Reaction]]
    next_cursor: str | None


async def owned_message(repos: Repos, account: Account, message_id: str) -> Message:
    message = (
        await repos.messages.get(account.id, MessageId(message_id)) if is_uuid(message_id) else None
    )
    if message is None:
        raise LinqError(ErrorCode.MESSAGE_NOT_FOUND, f"message {message_id} not found")
    return message


class MessageService:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def get(
        self, account: Account, message_id: str
    ) -> tuple[Message, Chat, Line, list[Reaction]]:
        async with self.storage.read() as repos:
            message = await owned_message(repos, account, message_id)
            chat, line = await chat_and_line(repos, account, message.chat_id)
            reactions = await repos.messages.reactions_for([message.id])
        return message, chat, line, reactions.get(message.id, [])

    async def list_in_chat(
        self, account: Account, chat_id: str, *, cursor: str | None, limit: int
    ) -> MessagePage:
        """Newest first."""
        after = cursors.decode_seq(cursors.MESSAGES, cursor)
        async with self.storage.read() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            rows = await repos.messages.page(chat.id, after_seq=after, limit=limit + 1)
            return await page_of(repos, chat, line, rows, limit, cursors.MESSAGES)

    async def thread(
        self, account: Account, message_id: str, *, cursor: str | None, limit: int, ascending: bool
    ) -> MessagePage:
        """The thread's originator and every reply, oldest first unless ``ascending`` is false."""
        # The order is part of the cursor's kind: a page of one order cannot resume the other.
        kind = cursors.THREAD if ascending else cursors.THREAD_DESC
        after = cursors.decode_seq(kind, cursor)
        async with self.storage.read() as repos:
            message = await owned_message(repos, account, message_id)
            chat, line = await chat_and_line(repos, account, message.chat_id)
            root = message.thread_root_id or message.id
            rows = await repos.messages.thread(
                root, after_seq=after, limit=limit + 1, ascending=ascending
            )
            return await page_of(repos, chat, line, rows, limit, kind)


async def page_of(
    repos: Repos, chat: Chat, line: Line, rows: list[Message], limit: int, kind: str
) -> MessagePage:
    """A page from ``limit + 1`` rows: the extra row only says that there is a next page."""
    more = len(rows) > limit
    rows = rows[:limit]
    reactions = await repos.messages.reactions_for([m.id for m in rows])
    next_cursor = cursors.encode_seq(kind, rows[-1].seq) if more else None
    return MessagePage(chat, line, rows, reactions, next_cursor)
