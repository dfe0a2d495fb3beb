"""Chat health: a deterministic model of how a conversation is going.

From the chat's latest messages, newest first:
- 3 or more failed sends in a row: CRITICAL;
- 10 or more of your messages in a row without a reply: CRITICAL;
- 5 or more without a reply: AT_RISK;
- otherwise HEALTHY.
OPTED_OUT (set by the opt-out rules) stays until the recipient writes again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from openlinq.domain.models import Chat, ChatHealth, DeliveryStatus, Direction
from openlinq.store.repos import Repos

CRITICAL_FAILURES = 3
AT_RISK_UNANSWERED = 5
CRITICAL_UNANSWERED = 10
WINDOW = 20


class Cause(StrEnum):
    """Which rule put a chat below HEALTHY (the reputation audit names it per chat)."""

    FAILURES = "failures"
    UNANSWERED = "unanswered"


def _tally(latest: Sequence[tuple[Direction, DeliveryStatus]]) -> tuple[int, int]:
    """(failed sends in a row, your messages since the last reply), newest first."""
    failures = unanswered = 0
    counting_failures = True
    for direction, status in latest:
        if direction is Direction.INBOUND:
            break
        unanswered += 1
        if counting_failures and status is DeliveryStatus.FAILED:
            failures += 1
        else:
            counting_failures = False
    return failures, unanswered


def assess(latest: Sequence[tuple[Direction, DeliveryStatus]]) -> ChatHealth:
    """``latest``: (direction, status) of the chat's newest messages, newest first."""
    failures, unanswered = _tally(latest)
    if failures >= CRITICAL_FAILURES or unanswered >= CRITICAL_UNANSWERED:
        return ChatHealth.CRITICAL
    if unanswered >= AT_RISK_UNANSWERED:
        return ChatHealth.AT_RISK
    return ChatHealth.HEALTHY


def causes(latest: Sequence[tuple[Direction, DeliveryStatus]]) -> frozenset[Cause]:
    """The rules of ``assess`` that hold for ``latest`` (empty for a healthy chat)."""
    failures, unanswered = _tally(latest)
    found = set()
    if failures >= CRITICAL_FAILURES:
        found.add(Cause.FAILURES)
    if unanswered >= AT_RISK_UNANSWERED and unanswered > failures:
        found.add(Cause.UNANSWERED)
    return frozenset(found)


async def refresh(repos: Repos, chat: Chat, now: datetime) -> ChatHealth:
    """Recompute and store a chat's health (an opted-out chat keeps its mark).

    ``chat`` must have been read in this transaction, so its health is current.
    """
    if chat.health is ChatHealth.OPTED_OUT:
        return ChatHealth.OPTED_OUT
    # Concurrent receipts for one chat (PostgreSQL) would each miss the others' rows;
    # taking turns means the last one to look sees them all.
    await repos.locks.hold(f"health:{chat.id}")
    health = assess(await repos.messages.recent_outcomes(chat.id, WINDOW))
    if health is not chat.health:
        await repos.chats.set_health(chat.id, health, now)
    return health
