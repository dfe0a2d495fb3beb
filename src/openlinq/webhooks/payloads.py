"""The envelope a receiver gets, in the payload version its subscription asked for."""

from __future__ import annotations

from typing import Any

import orjson

from openlinq.store.repos.events import StoredEvent
from openlinq.webhooks.catalogue import V2025

API_VERSION = "v3"
_MESSAGE_EVENTS = frozenset(
    {"message.sent", "message.received", "message.delivered", "message.read"}
)


def _v2025_message(data: dict[str, Any]) -> dict[str, Any]:
    """The 2025-01-01 shape of a message event.

    It differs from 2026-02-03 in four documented ways: ``is_from_me`` instead
    of ``direction``, the sender as a plain handle, the chat as ``chat_id``, and
    the message's own fields nested under ``message``.
    """
    message = {k: v for k, v in data.items() if k not in ("chat", "direction", "sender_handle")}
    sender = data.get("sender_handle") or {}
    return {
        "chat_id": (data.get("chat") or {}).get("id"),
        "is_from_me": data.get("direction") == "outbound",
        "from": sender.get("handle"),
        "service": data.get("service"),
        "message": message,
    }


def envelope(event: StoredEvent, version: str, partner_id: str) -> bytes:
    """The exact bytes that are signed and sent."""
    data = event.data
    if version == V2025 and event.type in _MESSAGE_EVENTS:
        data = _v2025_message(data)
    body = {
        "api_version": API_VERSION,
        "webhook_version": version,
        "event_type": event.type,
        "event_id": event.id,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "trace_id": event.trace_id,
        "partner_id": partner_id,
        "data": data,
    }
    # Compact UTF-8 JSON, as json.dumps(separators=(",", ":"), ensure_ascii=False) writes it.
    return orjson.dumps(body)


def chat_id_of(event: StoredEvent) -> str | None:
    """The chat an event is about, for delivery affinity."""
    data = event.data
    chat = data.get("chat")
    if isinstance(chat, dict) and isinstance(chat.get("id"), str):
        return str(chat["id"])
    value = data.get("chat_id") or (data.get("id") if event.type == "chat.created" else None)
    return str(value) if value else None
