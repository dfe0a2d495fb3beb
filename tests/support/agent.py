"""A tiny agent as users write them: webhook in, reply out through the official SDK."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.server import free_port
from tests.support.tenant import Tenant

# The agent's brain: the text it received → what it does (reply text, react with love).
Brain = Callable[[str], tuple[str | None, bool]]


def booking_agent(text: str) -> tuple[str | None, bool]:
    lowered = text.lower()
    if lowered.strip() == "stop":
        return None, False
    if "book" in lowered:
        return "Hi! How many people?", False
    if "thanks" in lowered:
        return "You're welcome, see you at 7!", True
    return "Booked: a table for two at 7pm.", False


@contextmanager
def running_agent(tenant: Tenant, brain: Brain) -> Iterator[None]:
    """An agent as users write them: webhook in, reply out through the official SDK."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            if body["event_type"] == "message.received":
                # Answered before the webhook is acknowledged: on the manual clock the
                # reply lands at the instant the message arrived.
                self._answer(body["data"])
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def _answer(self, data: dict[str, Any]) -> None:
            text = " ".join(p.get("value", "") for p in data["parts"] if p["type"] == "text")
            reply, love = brain(text)
            if love:
                tenant.client.messages.add_reaction(data["id"], operation="add", type="love")
            if reply:
                tenant.client.chats.messages.send(
                    data["chat"]["id"], message={"parts": [{"type": "text", "value": reply}]}
                )

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    tenant.client.webhook_subscriptions.create(
        target_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
        subscribed_events=["message.received"],
    )
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
