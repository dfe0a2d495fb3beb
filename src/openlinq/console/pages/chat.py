"""/console/chats/{id}: one chat as a phone shows it, live: bubbles, ticks, reactions, edits,
replies, media, cards, the other side typing, participants and location shares."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from openlinq.api.views import chat_out, message_out
from openlinq.console.access import Console, ConsoleDep
from openlinq.console.pages.inbox import part_label
from openlinq.console.render import render
from openlinq.domain.inbox import Conversation
from openlinq.domain.models import Message

router = APIRouter()

PAGE_SIZE = 50

TAPBACKS = {
    "love": "❤️",
    "like": "👍",
    "dislike": "👎",
    "laugh": "😂",
    "emphasize": "‼️",
    "question": "❓",
}
TICKS = {
    "pending": ("◷", "queued"),
    "queued": ("◷", "queued"),
    "sent": ("✓", "sent"),
    "delivered": ("✓✓", "delivered"),
    "read": ("✓✓", "read"),
    "failed": ("⚠", "failed"),
    "received": ("", "received"),
}

Cursor = Annotated[str | None, Query(max_length=200)]
FromSeq = Annotated[int | None, Query(ge=0, le=2**63 - 1)]


def _snippet(message: Message | None) -> str:
    if message is None:
        return "an earlier message"
    if message.deleted:
        return "a deleted message"
    return " · ".join(part_label(p) for p in message.parts if isinstance(p, dict))[:80]


def _bubbles(
    console: Console, conversation: Conversation, polls: dict[str, Any]
) -> list[dict[str, Any]]:
    """Oldest first, as a phone shows them; each with the API's view of the message (and
    a poll's ``PollEnvelope``)."""
    page = conversation.page
    links = console.services.links
    items: list[dict[str, Any]] = []
    for message in reversed(page.messages):
        reactions = page.reactions.get(message.id, [])
        view = message_out(links, message, page.chat, page.line, reactions)
        reply = message.reply_to
        items.append(
            {
                "m": view.model_dump(by_alias=True),
                "seq": message.seq,
                "poll": polls.get(message.id),
                "deleted": message.deleted,
                "purged": message.deleted and not message.parts,
                "error_code": message.error_code,
                "error_reason": message.error_reason,
                "failed_at": message.failed_at,
                "edits": conversation.edits.get(message.id, []),
                "reply_id": reply.message_id if reply else None,
                "reply_snippet": _snippet(conversation.replied.get(reply.message_id))
                if reply
                else None,
            }
        )
    return items


async def _conversation(
    console: Console, chat_id: str, cursor: str | None, from_seq: int | None
) -> dict[str, Any]:
    conversation = await console.services.inbox.conversation(
        console.account, chat_id, cursor=cursor, from_seq=from_seq, limit=PAGE_SIZE
    )
    page = conversation.page
    oldest = min((m.seq for m in page.messages), default=0)
    polls: dict[str, Any] = {
        m.id: await console.services.polls.retrieve(console.account, m.id)
        for m in page.messages
        if m.is_poll and not m.deleted
    }
    return {
        "chat": chat_out(page.chat, page.line).model_dump(by_alias=True),
        "line": page.line,
        "bubbles": _bubbles(console, conversation, polls),
        "next_cursor": page.next_cursor,
        "oldest_seq": oldest,
        "shares": conversation.shares,
        "tapbacks": TAPBACKS,
        "ticks": TICKS,
    }


@router.get("/chats/{chat_id}", response_class=HTMLResponse)
async def chat_page(request: Request, console: ConsoleDep, chat_id: str) -> HTMLResponse:
    context = await _conversation(console, chat_id, None, None)
    background = await console.services.backgrounds.current(console.account, chat_id)
    return render(request, console, "chat.html", **context, background=background)


@router.get("/chats/{chat_id}/messages", response_class=HTMLResponse)
async def messages_fragment(
    request: Request,
    console: ConsoleDep,
    chat_id: str,
    cursor: Cursor = None,
    from_seq: FromSeq = None,
) -> HTMLResponse:
    """The live part (every message from ``from_seq`` on) or an older page (``cursor``)."""
    context = await _conversation(console, chat_id, cursor, from_seq)
    return render(request, console, "_bubbles.html", **context)


@router.get("/chats/{chat_id}/info", response_class=HTMLResponse)
async def info_fragment(request: Request, console: ConsoleDep, chat_id: str) -> HTMLResponse:
    chat, line, shares = await console.services.inbox.chat_info(console.account, chat_id)
    view = chat_out(chat, line).model_dump(by_alias=True)
    background = await console.services.backgrounds.current(console.account, chat_id)
    return render(
        request,
        console,
        "_chat_info.html",
        chat=view,
        line=line,
        shares=shares,
        background=background,
    )
