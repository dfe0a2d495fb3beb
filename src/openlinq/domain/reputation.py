"""Line reputation: a deterministic model of how a line's traffic looks to its recipients.

The same model scores a line's ``reputation`` (GET /v3/phone_numbers,
``phone_number.status_updated``) and writes the reputation audit's report. It reads
aggregate signals over the last 7 days (the line's chats, their health, message and
reaction counts, opt-outs) and turns them into ranked drivers:

- ``flagged``: the line is FLAGGED. CRITICAL.
- ``opt_out_handling``: messages sent into a chat after its recipient sent STOP
  (1 or more: AT_RISK, 3 or more: CRITICAL), or many opt-outs (3 or more, and at least
  10 % of the active conversations): AT_RISK.
- ``volume_spike``: in the last 24 h more than 7,000 messages in and out (the platform's
  recommended daily volume per line), or at least 50 sent and three times the line's
  daily average of the days before, while fewer than 1 response came back per 2 sent.
  AT_RISK.
- ``new_conversation_rate``: 25 or more conversations started by the line in the last
  24 h. AT_RISK.
- ``overall_conversation_health``: of at least 5 conversations active in the window, a
  quarter or more AT_RISK or CRITICAL (AT_RISK; half or more: CRITICAL); or, with 20 or
  more delivered messages, fewer than 1 response per 4 sent (half the FAQ's 1:2
  inbound:outbound target). AT_RISK.
- ``other``: 20 % or more of 20 or more messages sent failed. AT_RISK.

Drivers rank by level (CRITICAL first), then in the order above: the specific cause
before the general symptom. The severity is the highest level (HEALTHY without
drivers). ``low_engagement`` is a conversation's key only (the contract keeps it out of
``drivers``): a chat AT_RISK or CRITICAL because its recipient stopped answering.
docs/reputation.md describes the model for users.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from openlinq.domain.health import WINDOW as HEALTH_WINDOW
from openlinq.domain.health import Cause, causes
from openlinq.domain.ids import ChatId
from openlinq.domain.models import ChatHealth, Line, LineStatus, Reputation
from openlinq.store.repos import Repos

WINDOW_DAYS = 7
WINDOW = timedelta(days=WINDOW_DAYS)
DAY = timedelta(days=1)

MIN_CONVERSATIONS = 5
UNHEALTHY_SHARE = 0.25
UNHEALTHY_SHARE_CRITICAL = 0.5
RECIPROCITY_TARGET = 0.5  # FAQ: aim for 1:2 inbound:outbound
RECIPROCITY_FLOOR = RECIPROCITY_TARGET / 2
MIN_DELIVERED = 20
ENGAGED_RESPONSES = 3  # FAQ: elicit 3+ responses from a new user
NEW_CONVERSATIONS_PER_DAY = 25
SPIKE_FACTOR = 3.0
SPIKE_MIN_MESSAGES = 50
DAILY_VOLUME = 7_000  # FAQ: combined inbound + outbound per line per day
MIN_OPT_OUTS = 3
OPT_OUT_SHARE = 0.1
AFTER_STOP_CRITICAL = 3
FAILURE_SHARE = 0.2
MIN_SENT = 20
EVIDENCE_LIMIT = 15


class DriverKey(StrEnum):
    LOW_ENGAGEMENT = "low_engagement"
    OVERALL_CONVERSATION_HEALTH = "overall_conversation_health"
    VOLUME_SPIKE = "volume_spike"
    NEW_CONVERSATION_RATE = "new_conversation_rate"
    OPT_OUT_HANDLING = "opt_out_handling"
    FLAGGED = "flagged"
    OTHER = "other"


class Level(IntEnum):
    HEALTHY = 0
    AT_RISK = 1
    CRITICAL = 2


# Ties within a level: the specific cause before the general symptom.
_PRECEDENCE = (
    DriverKey.FLAGGED,
    DriverKey.OPT_OUT_HANDLING,
    DriverKey.VOLUME_SPIKE,
    DriverKey.NEW_CONVERSATION_RATE,
    DriverKey.OVERALL_CONVERSATION_HEALTH,
    DriverKey.OTHER,
)
# Worst first in the evidence.
_CHAT_ORDER = {ChatHealth.CRITICAL: 0, ChatHealth.OPTED_OUT: 1, ChatHealth.AT_RISK: 2}


@dataclass(frozen=True, slots=True)
class ChatSignal:
    """One unhealthy conversation: its stored health and the health rules that hold."""

    chat_id: ChatId
    health: ChatHealth
    causes: frozenset[Cause]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OptOutChat:
    chat_id: ChatId
    messages_after_stop: int


@dataclass(frozen=True, slots=True)
class LineSignals:
    """What the model reads about one line: aggregates over the window and the last day."""

    phone_number: str
    now: datetime
    flagged: bool
    baseline_days: int  # days (a part day counts) of the line's history before the last 24 h
    conversations: int  # chats with activity in the window
    health_counts: Mapping[ChatHealth, int]
    sent: int  # outbound messages in the window
    failed: int
    responses: int  # inbound messages and reactions in the window
    sent_today: int
    received_today: int  # inbound messages in the last 24 h
    responses_today: int
    new_conversations: int  # started by the line (its message first) in the window
    engaged_new_conversations: int  # of those, with 3+ inbound messages
    new_conversations_today: int
    opt_outs: int  # recipients of the line's chats opted out in the window
    unhealthy_chats: Sequence[ChatSignal] = ()
    opt_out_chats: Sequence[OptOutChat] = ()

    @property
    def unhealthy(self) -> int:
        return self.health_counts.get(ChatHealth.AT_RISK, 0) + self.health_counts.get(
            ChatHealth.CRITICAL, 0
        )

    @property
    def delivered(self) -> int:
        return self.sent - self.failed

    @property
    def messages_after_stop(self) -> int:
        return sum(c.messages_after_stop for c in self.opt_out_chats)


@dataclass(frozen=True, slots=True)
class Driver:
    key: DriverKey
    level: Level
    metric: str
    summary: str


@dataclass(frozen=True, slots=True)
class ActionItem:
    priority: int
    title: str
    detail: str
    expected_impact: str


@dataclass(frozen=True, slots=True)
class UnhealthyChat:
    chat_id: ChatId
    status: ChatHealth
    driver_keys: tuple[DriverKey, ...]


@dataclass(frozen=True, slots=True)
class Report:
    phone_number: str
    severity: Reputation
    drivers: tuple[Driver, ...]
    action_items: tuple[ActionItem, ...]
    unhealthy_chats: tuple[UnhealthyChat, ...]
    opt_out_chats: tuple[OptOutChat, ...]

    @property
    def primary_driver(self) -> str:
        return self.drivers[0].key.value if self.drivers else ""


def _ratio(responses: int, sent: int) -> str:
    return f"{responses}:{sent} inbound:outbound"


def _flagged(s: LineSignals) -> Driver | None:
    if not s.flagged:
        return None
    return Driver(
        DriverKey.FLAGGED,
        Level.CRITICAL,
        "line status FLAGGED",
        "The line is restricted and its messages may not reach recipients.",
    )


def _opt_outs(s: LineSignals) -> Driver | None:
    after = s.messages_after_stop
    if after >= AFTER_STOP_CRITICAL:
        level = Level.CRITICAL
    elif after or (
        s.opt_outs >= MIN_OPT_OUTS and s.opt_outs >= OPT_OUT_SHARE * max(s.conversations, 1)
    ):
        level = Level.AT_RISK
    else:
        return None
    chats = sum(1 for c in s.opt_out_chats if c.messages_after_stop)
    metric = (
        f"{after} messages sent after STOP in {chats} chats; "
        f"{s.opt_outs} opt-outs in {WINDOW_DAYS} days"
    )
    summary = (
        "Messages kept going to recipients who asked this line to stop."
        if after
        else f"{s.opt_outs} recipients asked this line to stop in {WINDOW_DAYS} days."
    )
    return Driver(DriverKey.OPT_OUT_HANDLING, level, metric, summary)


def _baseline(s: LineSignals) -> float:
    return (s.sent - s.sent_today) / s.baseline_days if s.baseline_days else 0.0


def _volume(s: LineSignals) -> Driver | None:
    today = s.sent_today + s.received_today
    if today > DAILY_VOLUME:
        return Driver(
            DriverKey.VOLUME_SPIKE,
            Level.AT_RISK,
            f"{today} messages in and out in the last 24 h (recommended: up to {DAILY_VOLUME:,})",
            "The line carried more than the recommended daily volume for one line.",
        )
    baseline = _baseline(s)
    spiked = s.sent_today >= max(SPIKE_MIN_MESSAGES, SPIKE_FACTOR * baseline)
    if not spiked or s.responses_today >= RECIPROCITY_TARGET * s.sent_today:
        return None
    return Driver(
        DriverKey.VOLUME_SPIKE,
        Level.AT_RISK,
        f"{s.sent_today} sent in the last 24 h against {baseline:.0f} a day before; "
        f"{s.responses_today} responses",
        "Sending jumped far above the line's normal daily volume while few recipients replied.",
    )


def _new_conversations(s: LineSignals) -> Driver | None:
    if s.new_conversations_today < NEW_CONVERSATIONS_PER_DAY:
        return None
    return Driver(
        DriverKey.NEW_CONVERSATION_RATE,
        Level.AT_RISK,
        f"{s.new_conversations_today} conversations started in the last 24 h "
        f"(keep it under {NEW_CONVERSATIONS_PER_DAY})",
        "The line started too many brand-new conversations in one day.",
    )


def _conversation_health(s: LineSignals) -> Driver | None:
    share = s.unhealthy / s.conversations if s.conversations else 0.0
    enough = s.conversations >= MIN_CONVERSATIONS
    if enough and share >= UNHEALTHY_SHARE_CRITICAL:
        level = Level.CRITICAL
    elif (enough and share >= UNHEALTHY_SHARE) or (
        s.delivered >= MIN_DELIVERED and s.responses < RECIPROCITY_FLOOR * s.delivered
    ):
        level = Level.AT_RISK
    else:
        return None
    metric = (
        f"{s.unhealthy} of {s.conversations} active conversations at risk or critical; "
        f"reciprocity {_ratio(s.responses, s.delivered)} (target 1:2); "
        f"{s.engaged_new_conversations} of {s.new_conversations} new conversations "
        f"reached {ENGAGED_RESPONSES}+ responses"
    )
    return Driver(
        DriverKey.OVERALL_CONVERSATION_HEALTH,
        level,
        metric,
        "Many of the line's conversations are one-sided or trending unhealthy.",
    )


def _failures(s: LineSignals) -> Driver | None:
    if s.sent < MIN_SENT or s.failed < FAILURE_SHARE * s.sent:
        return None
    return Driver(
        DriverKey.OTHER,
        Level.AT_RISK,
        f"{s.failed} of {s.sent} messages failed to deliver in {WINDOW_DAYS} days",
        "A large share of the line's messages are failing to deliver.",
    )


_RULES = (_flagged, _opt_outs, _volume, _new_conversations, _conversation_health, _failures)

_ACTIONS: dict[DriverKey, tuple[str, str, str]] = {
    DriverKey.FLAGGED: (
        "Move active traffic to a healthy line",
        "The line is restricted: send from another line (POST /v3/messages picks one) and let "
        "this one recover before sending more.",
        "high",
    ),
    DriverKey.OPT_OUT_HANDLING: (
        "Honor every stop request",
        "Send nothing further to recipients who opted out unless they opt back in; keep "
        "override_optout for a single courtesy message.",
        "high",
    ),
    DriverKey.VOLUME_SPIKE: (
        "Ramp volume up gradually",
        "Spread sends over time, favour people who already engaged, and share sustained high "
        "volume across more lines.",
        "medium",
    ),
    DriverKey.NEW_CONVERSATION_RATE: (
        "Spread new conversations out",
        "Start fewer brand-new conversations per day; let users message the line first "
        "where you can.",
        "medium",
    ),
    DriverKey.OVERALL_CONVERSATION_HEALTH: (
        "Fix the unhealthy conversations first",
        "Review the content and timing of the conversations listed in the evidence; lead with "
        "messages that invite a reply and aim for 3+ responses from each new user.",
        "high",
    ),
    DriverKey.OTHER: (
        "Check why messages fail",
        "Look at the failed messages' error codes and stop sending to recipients that cannot "
        "be reached.",
        "low",
    ),
}
_ALL_CLEAR = ActionItem(
    1,
    "Keep sending as you do",
    "Nothing on this line needs action: keep conversations two-way and volume steady.",
    "low",
)


def _chat_keys(chat: ChatSignal, s: LineSignals, drivers: set[DriverKey]) -> tuple[DriverKey, ...]:
    if chat.health is ChatHealth.OPTED_OUT:
        return (DriverKey.OPT_OUT_HANDLING,)
    keys: list[DriverKey] = []
    if Cause.UNANSWERED in chat.causes:
        keys.append(DriverKey.LOW_ENGAGEMENT)
    if Cause.FAILURES in chat.causes:
        keys.append(DriverKey.FLAGGED if s.flagged else DriverKey.OTHER)
    if DriverKey.NEW_CONVERSATION_RATE in drivers and chat.created_at >= s.now - DAY:
        keys.append(DriverKey.NEW_CONVERSATION_RATE)
    return tuple(keys) or (DriverKey.OTHER,)


def assess(s: LineSignals) -> Report:
    """The report for a line's signals: ranked drivers, action items and evidence."""
    found = [driver for rule in _RULES if (driver := rule(s)) is not None]
    drivers = tuple(sorted(found, key=lambda d: (-d.level, _PRECEDENCE.index(d.key))))
    level = max((d.level for d in drivers), default=Level.HEALTHY)
    items = tuple(ActionItem(i, *_ACTIONS[d.key]) for i, d in enumerate(drivers, start=1)) or (
        _ALL_CLEAR,
    )
    keys = {d.key for d in drivers}
    chats = sorted(s.unhealthy_chats, key=lambda c: _CHAT_ORDER[c.health])[:EVIDENCE_LIMIT]
    return Report(
        phone_number=s.phone_number,
        severity=Reputation[level.name],
        drivers=drivers,
        action_items=items,
        unhealthy_chats=tuple(
            UnhealthyChat(c.chat_id, c.health, _chat_keys(c, s, keys)) for c in chats
        ),
        opt_out_chats=tuple(
            sorted(s.opt_out_chats, key=lambda c: -c.messages_after_stop)[:EVIDENCE_LIMIT]
        ),
    )


async def evaluate(repos: Repos, line: Line, now: datetime) -> Report:
    """Score ``line`` now: a fixed number of aggregate queries, whatever the traffic."""
    return assess(await collect(repos, line, now))


async def collect(repos: Repos, line: Line, now: datetime) -> LineSignals:
    since, today = now - WINDOW, now - DAY
    rep = repos.reputation
    first_seq = await rep.first_message_since(since)
    counts = await rep.message_counts(line.account_id, line.id, since, today, first_seq)
    new = await rep.new_conversations(line.account_id, line.id, since, today, ENGAGED_RESPONSES)
    unhealthy = [
        ChatSignal(
            chat_id,
            health,
            causes(await repos.messages.recent_outcomes(chat_id, HEALTH_WINDOW)),
            created_at,
        )
        for chat_id, health, created_at in await rep.unhealthy_chats(
            line.account_id, line.id, since, EVIDENCE_LIMIT
        )
    ]
    stopped, opt_outs = await rep.opt_outs(line.account_id, line.id, since, EVIDENCE_LIMIT)
    health_counts = await rep.chat_health_counts(line.account_id, line.id, since)
    history_start = max(line.created_at, since)
    return LineSignals(
        phone_number=line.phone_number,
        now=now,
        flagged=line.status is LineStatus.FLAGGED,
        baseline_days=max(0, min(WINDOW_DAYS - 1, math.ceil((today - history_start) / DAY))),
        conversations=sum(health_counts.values()),
        health_counts=health_counts,
        sent=counts.sent,
        failed=counts.failed,
        responses=counts.received + counts.reactions,
        sent_today=counts.sent_today,
        received_today=counts.received_today,
        responses_today=counts.received_today + counts.reactions_today,
        new_conversations=new.started,
        engaged_new_conversations=new.engaged,
        new_conversations_today=new.started_today,
        opt_outs=opt_outs,
        unhealthy_chats=unhealthy,
        opt_out_chats=[OptOutChat(chat_id, after) for chat_id, after in stopped],
    )
