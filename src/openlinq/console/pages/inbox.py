"""/console: every chat of the account, newest activity first, live; filter by handle or text."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from openlinq.api.views import chat_out
from openlinq.console.access import ConsoleDep
from openlinq.console.render import render
from openlinq.domain.errors import LinqError
from openlinq.domain.inbox import MAX_SEARCH_TEXT, SEARCH_SCAN, ChatSummary, InboxPage
from openlinq.domain.models import Message

router = APIRouter()

PAGE_SIZE = 50
# How many earlier pages "Newer" can step back through (the cursors ride in the URL).
MAX_TRAIL = 20

Text = Annotated[str | None, Query(max_length=MAX_SEARCH_TEXT)]
Cursor = Annotated[str | None, Query(max_length=200)]
Trail = Annotated[str | None, Query(max_length=(200 + 1) * MAX_TRAIL)]

_MEDIA_LABELS = (("image/", "📷 Photo"), ("audio/", "🎤 Audio"), ("video/", "🎬 Video"))


def part_label(part: dict[str, Any]) -> str:
    """One part in a line of text: what an inbox row previews."""
    kind = part.get("type")
    if kind == "text":
        return str(part.get("value", ""))
    if kind == "link":
        return f"🔗 {part.get('value', '')}"
    if kind == "media":
        mime = str(part.get("mime_type") or "")
        if "vcard" in mime:
            return "👤 Contact card"
        label = next((text for prefix, text in _MEDIA_LABELS if mime.startswith(prefix)), None)
        return label or f"📎 {part.get('filename') or 'File'}"
    if kind == "imessage_app":
        layout = part.get("layout") or {}
        return f"🧩 {layout.get('caption') or part.get('fallback_text') or 'App card'}"
    if kind == "app_clip":
        return f"🧩 {part.get('caption') or 'App Clip'}"
    return "Message"


def preview(message: Message | None) -> str:
    if message is None:
        return ""
    return " · ".join(part_label(p) for p in message.parts if isinstance(p, dict))[:140]


def _row(summary: ChatSummary) -> dict[str, Any]:
    return {
        "chat": chat_out(summary.chat, summary.line).model_dump(by_alias=True),
        "line": summary.line.phone_number,
        "last": summary.last,
        "preview": preview(summary.last),
        "unread": summary.unread,
    }


def _trail(trail: str | None) -> list[str]:
    return [c for c in (trail or "").split(",") if c][-MAX_TRAIL:]


async def _list(
    console: ConsoleDep,
    to: Text = None,
    q: Text = None,
    cursor: Cursor = None,
    trail: Trail = None,
) -> dict[str, Any]:
    """The listing both the page and its live fragment render (a dependency of each)."""
    to, q = (to or "").strip() or None, (q or "").strip() or None
    error = None
    try:
        page = await console.services.inbox.chats_page(
            console.account, to=to, text=q, cursor=cursor, limit=PAGE_SIZE
        )
    except LinqError as exc:  # a malformed handle or cursor: say so on the page
        page, error = InboxPage([], None), exc.message
    back = _trail(trail)
    return {
        "rows": [_row(s) for s in page.rows],
        "next_cursor": page.next_cursor,
        "searched": page.searched,
        "scan": SEARCH_SCAN,
        "to": to or "",
        "q": q or "",
        "cursor": cursor or "",
        "trail": back,
        "error": error,
    }


Listing = Annotated[dict[str, Any], Depends(_list)]


@router.get("", response_class=HTMLResponse)
async def inbox(request: Request, console: ConsoleDep, listing: Listing) -> HTMLResponse:
    return render(request, console, "inbox.html", **listing)


@router.get("/chats", response_class=HTMLResponse)
async def chat_list(request: Request, console: ConsoleDep, listing: Listing) -> HTMLResponse:
    return render(request, console, "_chat_list.html", **listing)
