"""/console/live: Server-Sent Events telling open pages what just happened."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from openlinq.console.access import ConsoleDep
from openlinq.console.live import Listener
from openlinq.store.repos.events import StoredEvent

router = APIRouter()


def _summary(event: StoredEvent) -> str:
    """What a page needs to decide whether to reload a part of itself."""
    data = event.data
    chat = (
        data.get("chat_id")
        or (data.get("chat") or {}).get("id")
        or (data.get("id") if event.type.startswith("chat.") else None)
    )
    message = data.get("message_id") or data.get("id") if "message" in event.type else None
    # Who did it (a typing indicator lives only in its event, so the page needs the name).
    actor = data.get("actor_handle") or data.get("sender_handle") or {}
    return json.dumps(
        {
            "type": event.type,
            "chat_id": chat,
            "message_id": message,
            "line": event.phone_number,
            "actor": actor.get("handle") if isinstance(actor, dict) else None,
        }
    )


async def _stream(listener: Listener) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    async for event in listener:
        if event is None:
            yield "event: resync\ndata: {}\n\n"
        else:
            yield f"event: update\ndata: {_summary(event)}\n\n"


@router.get("/live")
async def live(console: ConsoleDep) -> StreamingResponse:
    return StreamingResponse(
        _stream(await console.services.live.listen(console.account_id)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
