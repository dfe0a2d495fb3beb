"""What the phones saw, one log line each: ``→ +14155550105 delivered``,
``← +14155550105 "echo: hi"``.

Lines are written once the transaction that made the change has committed (a rolled
back change never happened), with structured fields for the JSON log. Texts are
quoted as JSON strings and shortened, so a message can neither run on nor forge a line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from openlinq.domain.models import Chat, Message
from openlinq.store.repos import Repos

log = logging.getLogger("openlinq.delivery")

TEXT_SHOWN = 80


def quoted(text: str) -> str:
    """``text`` as a JSON string of at most TEXT_SHOWN characters."""
    if len(text) > TEXT_SHOWN:
        text = text[: TEXT_SHOWN - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def parts_summary(parts: Sequence[dict[str, Any]]) -> str:
    """A message's parts as a person would glance at them: its text, ``[image.png]``."""
    shown = []
    for part in parts:
        if part.get("type") in ("text", "link") and part.get("value"):
            shown.append(quoted(str(part["value"])))
        else:
            name = part.get("filename") or part.get("type") or "part"
            shown.append(f"[{name}]")
    return " ".join(shown) or "(empty)"


def _handles(chat: Chat) -> str:
    return ", ".join(h.handle for h in chat.recipients) or "(nobody)"


def _after_commit(repos: Repos, level: int, message: str, fields: dict[str, Any]) -> None:
    if log.isEnabledFor(level):
        repos.after_commit(lambda: log.log(level, "%s", message, extra=fields))


def outbound_status(
    repos: Repos,
    message: Message,
    chat: Chat,
    status: str,
    detail: Iterable[str] = (),
) -> None:
    """``→ +14155550105 delivered``: an outbound message reached a new state."""
    handles = _handles(chat)
    line = " ".join(["→", handles, status, *detail])
    level = logging.WARNING if status == "failed" else logging.INFO
    _after_commit(
        repos,
        level,
        line,
        {
            "direction": "outbound",
            "handle": handles,
            "status": status,
            "message_id": message.id,
            "chat_id": chat.id,
            "service": message.service.value,
        },
    )


def inbound(repos: Repos, sender: str, chat: Chat, what: str, **fields: Any) -> None:
    """``← +14155550105 "echo: hi"``: a phone sent a message, a reaction, a typing bubble."""
    _after_commit(
        repos,
        logging.INFO,
        f"← {sender} {what}",
        {"direction": "inbound", "handle": sender, "chat_id": chat.id, **fields},
    )


def dropped(repos: Repos, sender: str, line: str, kind: str, what: str) -> None:
    """``← +14155550105 dropped (blocked) "hi"``: a blocked handle's traffic, not delivered."""
    _after_commit(
        repos,
        logging.INFO,
        f"← {sender} dropped (blocked) {what}",
        {"direction": "inbound", "handle": sender, "line": line, "dropped": kind},
    )
