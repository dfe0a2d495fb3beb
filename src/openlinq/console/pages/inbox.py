"""/console: every chat of the account, newest activity first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from openlinq.api.views import chat_page_out
from openlinq.console.access import ConsoleDep
from openlinq.console.render import render

router = APIRouter()

PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
async def inbox(request: Request, console: ConsoleDep) -> HTMLResponse:
    page = await console.services.chats.page(
        console.account, from_number=None, to=None, cursor=None, limit=PAGE_SIZE
    )
    return render(request, console, "inbox.html", page=chat_page_out(page))
