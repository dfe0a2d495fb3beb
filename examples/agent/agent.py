"""A small reference agent: Linq webhooks in, replies out through the official SDK.

It answers a greeting at once, inside the webhook. Anything else it "thinks about"
(the LLM-shaped part): the webhook is acknowledged straight away and the reply goes
out from a background task ``think_seconds`` later. It runs a three-turn booking
conversation, respects STOP, and notes messages of its own that could not be
delivered (the ``message.failed`` webhook) instead of retrying them forever.

Run it for real with ``uvicorn agent:app`` (it reads LINQ_API_V3_BASE_URL,
LINQ_API_V3_API_KEY and, to verify signatures, LINQ_WEBHOOK_SECRET).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from linq import AsyncLinqAPIV3
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

GREETING = re.compile(r"^\s*(hi|hello|hey)\b", re.IGNORECASE)
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}


@dataclass
class AgentState:
    available: bool = True  # False: answer webhooks 503, as during a deploy
    opted_out: set[str] = field(default_factory=set)
    bookings: dict[str, dict[str, str]] = field(default_factory=dict)  # chat id -> answers
    failed: list[str] = field(default_factory=list)  # ids of our messages that failed
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def answer(state: AgentState, chat_id: str, text: str) -> str:
    """The "model": a deterministic booking dialogue."""
    booking = state.bookings.get(chat_id)
    if booking is not None:
        if "day" not in booking:
            booking["day"] = text.strip()
            return f"What time on {booking['day']}?"
        del state.bookings[chat_id]
        return f"Booked: {booking['day']} at {text.strip()}. See you then!"
    if "book" in text.lower():
        state.bookings[chat_id] = {}
        return "Happy to book you in. What day works for you?"
    return f"You said: {text.strip()}. Say 'book' to make an appointment."


def create_app(
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    webhook_secret: str | None = None,
    think_seconds: float = 3.0,
) -> Starlette:
    client = AsyncLinqAPIV3(
        base_url=base_url or os.environ.get("LINQ_API_V3_BASE_URL"),
        api_key=api_key or os.environ.get("LINQ_API_V3_API_KEY"),
    )
    secret = webhook_secret or os.environ.get("LINQ_WEBHOOK_SECRET")
    state = AgentState()

    async def send(chat_id: str, text: str) -> None:
        await client.chats.messages.send(
            chat_id, message={"parts": [{"type": "text", "value": text}]}
        )

    async def think_then_reply(chat_id: str, text: str) -> None:
        await asyncio.sleep(think_seconds)  # the model at work
        await send(chat_id, answer(state, chat_id, text))

    async def on_message(data: dict[str, Any]) -> None:
        chat_id, sender = data["chat"]["id"], data["sender_handle"]["handle"]
        text = " ".join(p["value"] for p in data.get("parts", []) if p.get("type") == "text")
        if text.strip().upper() in STOP_WORDS:
            state.opted_out.add(sender)
            return
        if sender in state.opted_out:
            return
        if GREETING.match(text):
            await send(chat_id, "Hello! I'm the demo agent. Say 'book' to make an appointment.")
            return
        task = asyncio.create_task(think_then_reply(chat_id, text))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    async def webhook(request: Request) -> JSONResponse:
        if not state.available:
            return JSONResponse({"error": "deploying"}, status_code=503)
        body = (await request.body()).decode()
        if secret:
            client.webhooks.unwrap(body, headers=dict(request.headers), key=secret)
        event = json.loads(body)
        if (
            event["event_type"] == "message.received"
            and event["data"].get("direction") != "outbound"
        ):
            await on_message(event["data"])
        elif event["event_type"] == "message.failed":
            state.failed.append(str(event["data"].get("id")))
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await client.close()

    app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"])], lifespan=lifespan)
    app.state.agent = state
    return app


def _from_env() -> Starlette:
    return create_app()


if __name__ == "__main__":  # pragma: no cover
    import uvicorn

    uvicorn.run(_from_env(), port=int(os.environ.get("PORT", "3000")))
