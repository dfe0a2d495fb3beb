"""Domain records: what the rules work on. Neither wire schemas nor table rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from openlinq.domain.ids import AccountId, ChatId, HandleId, LineId, MessageId


class Service(StrEnum):
    IMESSAGE = "iMessage"
    RCS = "RCS"
    SMS = "SMS"


class LineType(StrEnum):
    IMESSAGE = "iMessage"
    RCS = "RCS"


class LineStatus(StrEnum):
    ACTIVE = "ACTIVE"
    FLAGGED = "FLAGGED"


class Reputation(StrEnum):
    HEALTHY = "HEALTHY"
    AT_RISK = "AT_RISK"
    CRITICAL = "CRITICAL"


class ChatHealth(StrEnum):
    HEALTHY = "HEALTHY"
    AT_RISK = "AT_RISK"
    CRITICAL = "CRITICAL"
    OPTED_OUT = "OPTED_OUT"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    RECEIVED = "received"
    READ = "read"
    FAILED = "failed"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class HandleStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"
    REMOVED = "removed"


class AccountTier(StrEnum):
    LOCAL = "local"
    SANDBOX = "sandbox"
    STANDARD = "standard"


@dataclass(frozen=True, slots=True)
class Account:
    id: AccountId
    name: str
    tier: AccountTier
    created_at: datetime
    pair_limit_per_minute: int | None = None
    daily_message_limit: int | None = None
    retention_hours: float | None = None


@dataclass(frozen=True, slots=True)
class Line:
    id: LineId
    account_id: AccountId
    phone_number: str
    line_type: LineType
    rcs_enabled: bool
    status: LineStatus
    reputation: Reputation
    forwarding_number: str | None
    last_used_at: datetime | None
    created_at: datetime
    retention_hours: float | None = None
    released_at: datetime | None = None
    # Zero-data-retention line: its message events carry no content.
    zero_retention: bool = False
    # The simulator makes this line's group name / icon updates fail with this code.
    sim_group_update_error: int | None = None

    @property
    def can_send(self) -> bool:
        return self.status is LineStatus.ACTIVE and self.released_at is None

    @property
    def services(self) -> frozenset[Service]:
        """What this line can originate."""
        if self.line_type is LineType.RCS:
            return frozenset({Service.RCS, Service.SMS})
        services = {Service.IMESSAGE, Service.SMS}
        if self.rcs_enabled:
            services.add(Service.RCS)
        return frozenset(services)


@dataclass(frozen=True, slots=True)
class ChatHandle:
    id: HandleId
    chat_id: ChatId
    handle: str
    service: Service
    is_me: bool
    status: HandleStatus
    joined_at: datetime
    left_at: datetime | None
    line_type: LineType | None = None


@dataclass(frozen=True, slots=True)
class Chat:
    id: ChatId
    account_id: AccountId
    line_id: LineId
    is_group: bool
    service: Service
    display_name: str | None
    group_icon: str | None
    health: ChatHealth
    health_updated_at: datetime
    recipient_key: str
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime
    handles: tuple[ChatHandle, ...] = ()

    @property
    def own_handle(self) -> ChatHandle:
        return next(h for h in self.handles if h.is_me)

    @property
    def recipients(self) -> list[ChatHandle]:
        return [h for h in self.handles if not h.is_me and h.status is HandleStatus.ACTIVE]


@dataclass(frozen=True, slots=True)
class Effect:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class ReplyTo:
    message_id: MessageId
    part_index: int


@dataclass(frozen=True, slots=True)
class Message:
    id: MessageId
    account_id: AccountId
    chat_id: ChatId
    direction: Direction
    sender_handle: str
    parts: tuple[dict[str, Any], ...]
    effect: Effect | None
    reply_to: ReplyTo | None
    preferred_service: Service | None
    service: Service
    delivery_status: DeliveryStatus
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    error_code: int | None = None
    error_reason: str | None = None
    seq: int = 0
    thread_root_id: MessageId | None = None
    request_hash: str | None = None
    deleted: bool = False
    # How the send that created this message chose its chat, for idempotent replays.
    send_meta: dict[str, Any] = field(default_factory=dict)
    # Ephemeral tier: when the message's content is purged (None: kept).
    expires_at: datetime | None = None

    @property
    def is_from_me(self) -> bool:
        return self.direction is Direction.OUTBOUND

    @property
    def is_poll(self) -> bool:
        """A poll's definition message (its options and votes are kept beside it)."""
        return self.send_meta.get("poll") is True


@dataclass(frozen=True, slots=True)
class Reaction:
    id: str
    message_id: MessageId
    part_index: int
    handle: str
    is_me: bool
    type: str
    custom_emoji: str | None
    created_at: datetime
    sticker: dict[str, Any] | None = None
    # A sticker's {"x", "y", "scale", "rotation"} as given; None: not movable (or no sticker).
    placement: dict[str, float] | None = None


@dataclass(frozen=True, slots=True)
class Edit:
    id: str
    message_id: MessageId
    part_index: int
    previous_text: str
    text: str
    edited_at: datetime


@dataclass(frozen=True, slots=True)
class PollOption:
    id: str
    message_id: MessageId
    position: int
    text: str
    creator_handle: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PollVote:
    option_id: str
    handle: str
    voted_at: datetime


@dataclass(frozen=True, slots=True)
class Poll:
    """A poll's options in creation order and every vote on them."""

    message: Message
    options: tuple[PollOption, ...]
    votes: tuple[PollVote, ...]


class AuditStatus(StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ReputationAudit:
    id: str
    account_id: AccountId
    line_id: LineId
    status: AuditStatus
    created_at: datetime
    error: str | None = None
    # The report as served (domain/views.reputation_report_view), once complete.
    report: dict[str, Any] | None = None
    generated_at: datetime | None = None
    finished_at: datetime | None = None
