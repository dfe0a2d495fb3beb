"""Opt-out: the keyword rules, and the block they put on sends.

A recipient opts out by sending, as the whole trimmed message, one of STOP,
UNSUBSCRIBE, OPTOUT, CANCEL, END or QUIT (exact case), or "opt out" in any case
with or without a space or hyphen. From then on every direct send to them, on
any chat and any line of the account, is refused with 403 / 2024 unless the
request sets ``override_optout``. Any later message from them that is not a
keyword opts them back in. Group chats are never marked and never blocked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import ChatId
from openlinq.domain.models import Chat, ChatHealth
from openlinq.store.repos import Repos

KEYWORDS = frozenset({"STOP", "UNSUBSCRIBE", "OPTOUT", "CANCEL", "END", "QUIT"})
_OPT_OUT = re.compile(r"^opt[\s-]?out$", re.IGNORECASE)


def opt_out_keyword(parts: Sequence[dict[str, Any]]) -> str | None:
    """The keyword when a message is exactly an opt-out, else None."""
    if any(p["type"] != "text" for p in parts):
        return None
    text = " ".join(p["value"] for p in parts).strip()
    if text in KEYWORDS or _OPT_OUT.match(text):
        return text
    return None


async def refuse_opted_out(repos: Repos, chat: Chat, *, override: bool) -> None:
    if chat.is_group or override:
        return
    blocked = await repos.opt_outs.opted_out(chat.account_id, [h.handle for h in chat.recipients])
    if blocked:
        raise LinqError(
            ErrorCode.RECIPIENT_OPTED_OUT,
            f"{blocked[0]} has opted out; set override_optout to send anyway",
            retryable=False,
        )


async def on_inbound(
    repos: Repos, chat: Chat, sender: str, parts: Sequence[dict[str, Any]], now: datetime
) -> ChatHealth | None:
    """Apply the opt-out rules to an inbound message; returns the chat's new health, if any."""
    if chat.is_group:
        return None
    keyword = opt_out_keyword(parts)
    if keyword is not None:
        await repos.opt_outs.add(chat.account_id, sender, chat.id, keyword, now)
        await repos.chats.set_health(chat.id, ChatHealth.OPTED_OUT, now)
        return ChatHealth.OPTED_OUT
    marked = await repos.opt_outs.remove(chat.account_id, sender)
    if marked is not None:
        await repos.chats.set_health(ChatId(marked), ChatHealth.HEALTHY, now)
        return ChatHealth.HEALTHY
    return None
