"""``openlinq chats`` and ``openlinq messages``: read conversations through the Partner API."""

from __future__ import annotations

import json
import signal
import time
from types import FrameType
from typing import Annotated, Any

import typer

from openlinq.cli.common import (
    DEFAULT_BASE_URL,
    Api,
    ApiKey,
    ApiUrl,
    JsonFlag,
    emit_json,
    say,
    seconds,
    table,
)

chats_app = typer.Typer(help="Chats: list them, read one as a transcript.", no_args_is_help=True)
messages_app = typer.Typer(help="Messages: follow them live.", no_args_is_help=True)


def part_text(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind == "text":
        return str(part.get("value", ""))
    if kind == "media":
        return f"[{part.get('mime_type') or 'media'} {part.get('filename') or part.get('url', '')}]"
    if kind == "link":
        return f"[link {part.get('value', '')}]"
    return f"[{kind}]"


def message_text(message: dict[str, Any]) -> str:
    return " ".join(part_text(part) for part in message.get("parts") or []) or "(no content)"


def transcript_line(message: dict[str, Any], line_numbers: bool = False) -> str:
    """``12:00:03  → +14155550105  hi there  (delivered)`` — → is outbound, ← inbound."""
    stamp = str(message.get("created_at", ""))[11:19]
    sender = message.get("from") or (message.get("from_handle") or {}).get("handle") or "?"
    arrow = "→" if message.get("is_from_me") else "←"
    status = message.get("delivery_status") or ""
    chat = f"{message.get('chat_id')}  " if line_numbers else ""
    return f"{stamp}  {chat}{arrow} {sender}  {message_text(message)}  ({status})"


def _all_messages(api: Api, chat_id: str, limit: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    cursor = None
    while len(messages) < limit:
        params: dict[str, Any] = {"limit": min(100, limit - len(messages))}
        if cursor:
            params["cursor"] = cursor
        page = api.partner("GET", f"/chats/{chat_id}/messages", params=params)
        messages.extend(page["messages"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    # Pages come newest first; messages can share a timestamp (a manual clock), so reverse.
    return messages[::-1]


@chats_app.command("list")
def list_chats(
    limit: Annotated[int, typer.Option(help="How many, most recently active first.")] = 20,
    from_line: Annotated[str | None, typer.Option("--from", help="Only this line's.")] = None,
    to: Annotated[str | None, typer.Option(help="Only chats with this handle.")] = None,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Your chats, most recently active first."""
    params: dict[str, Any] = {"limit": limit}
    if from_line:
        params["from"] = from_line
    if to:
        params["to"] = to
    with Api(api_url, api_key) as api:
        chats = api.partner("GET", "/chats", params=params)["chats"]
    if as_json:
        emit_json(chats)
        return
    table(
        ["chat", "with", "line", "service", "updated"],
        [
            (
                chat["id"],
                ", ".join(h["handle"] for h in chat["handles"] if not h.get("is_me")),
                ", ".join(h["handle"] for h in chat["handles"] if h.get("is_me")),
                chat.get("service") or "",
                chat["updated_at"],
            )
            for chat in chats
        ],
    )


@chats_app.command("show")
def show_chat(
    chat_id: str,
    limit: Annotated[int, typer.Option(help="At most this many messages (the newest).")] = 200,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """A chat as a transcript, oldest message first (→ sent by you, ← received)."""
    with Api(api_url, api_key) as api:
        chat = api.partner("GET", f"/chats/{chat_id}")
        messages = _all_messages(api, chat_id, limit)
    if as_json:
        emit_json({"chat": chat, "messages": messages})
        return
    handles = ", ".join(h["handle"] for h in chat["handles"])
    say(f"chat {chat['id']} ({chat.get('service') or '-'}): {handles}")
    for message in messages:
        say(transcript_line(message))


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@messages_app.command("tail")
def tail(
    chat_id: Annotated[
        str | None, typer.Option("--chat", help="Only this chat (default: every chat).")
    ] = None,
    interval: Annotated[str, typer.Option(help="How often to look (1s, 500ms).")] = "1s",
    count: Annotated[
        int | None, typer.Option(help="Stop after this many new messages.", show_default=False)
    ] = None,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Follow new messages as they are sent and received (Ctrl-C to stop)."""
    pause = seconds(interval)
    seen: set[str] = set()
    shown = 0
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with Api(api_url, api_key) as api:

        def newest() -> list[dict[str, Any]]:
            chats = (
                [chat_id]
                if chat_id
                else [c["id"] for c in api.partner("GET", "/chats", params={"limit": 50})["chats"]]
            )
            found: list[dict[str, Any]] = []
            for chat in chats:
                page = api.partner("GET", f"/chats/{chat}/messages", params={"limit": 50})
                found.extend(reversed(page["messages"]))
            return sorted(found, key=lambda m: str(m["created_at"]))  # stable: keeps chat order

        seen.update(m["id"] for m in newest())
        # On stderr, so --json output stays one object a line.
        typer.echo(f"following new messages at {api.base_url} (Ctrl-C to stop)", err=True)
        try:
            while count is None or shown < count:
                time.sleep(pause)
                for message in newest():
                    if message["id"] in seen:
                        continue
                    seen.add(message["id"])
                    shown += 1
                    if as_json:
                        say(json.dumps(message, default=str, ensure_ascii=False))
                    else:
                        say(transcript_line(message, line_numbers=chat_id is None))
                    if count is not None and shown >= count:
                        break
        except KeyboardInterrupt:
            pass
