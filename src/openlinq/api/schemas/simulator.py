"""The simulator control API (/sim/v1): openlinq's own, not part of the Linq contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from openlinq.api.schemas.backgrounds import BackgroundFields, BackgroundType
from openlinq.api.schemas.common import EffectOut, ReplyToOut, RequestModel, ServiceType, WireModel
from openlinq.api.schemas.messages import PartIn
from openlinq.domain.models import Message

Tapback = Literal["love", "like", "dislike", "laugh", "emphasize", "question"]


class DeviceRuleIn(RequestModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    match: str = Field(
        min_length=1, max_length=500, description="A regex searched in the received text."
    )
    reply: str | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="{text}: the received text; {0}, {1}, {name}: the match and its groups.",
    )
    ignore_case: bool = True
    delay_seconds: float | None = Field(default=None, ge=0, le=86_400)
    typing: bool | None = None
    react: Tapback | None = None


class DeviceSettingsIn(RequestModel):
    # A misspelt setting must not silently leave the device as it was.
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    preset: str | None = Field(default=None, description="Start from this device model.")
    services: list[ServiceType] | None = None
    reachable: bool | None = None
    deliver_after: float | None = Field(default=None, ge=0, le=86_400)
    read_after: float | None = Field(default=None, ge=0, le=86_400)
    typing: bool | None = None
    reply: Literal["none", "echo", "stop_first"] | None = None
    reply_after: float | None = Field(default=None, ge=0, le=86_400)
    react: Tapback | None = None
    location: tuple[float, float] | None = Field(
        default=None, description="[longitude, latitude]: the device answers location requests."
    )
    replies: list[Annotated[str, Field(min_length=1, max_length=10_000)]] | None = Field(
        default=None, max_length=1_000, description="Sent in order, one per received message."
    )
    replies_loop: bool | None = Field(
        default=None, description="After the last reply, start again (else: silence)."
    )
    rules: list[DeviceRuleIn] | None = Field(
        default=None, max_length=100, description="regex → reply / react; the first match wins."
    )
    opt_out_after: int | None = Field(
        default=None, ge=1, le=100_000, description="Reply STOP to the Nth message received."
    )
    unreachable_after: int | None = Field(
        default=None, ge=1, le=100_000, description="Unreachable once N messages were received."
    )
    webhook_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Each received message is POSTed here; the answer is the device's reply.",
    )
    poll_vote: int | None = Field(
        default=None, ge=1, le=100, description="Vote for option N (1 = first) of each poll."
    )
    poll_vote_after: float | None = Field(
        default=None, ge=0, le=86_400, description="Seconds after reading a poll it votes."
    )
    fail_background: Literal[1005, 2011, 4001, 5002] | None = Field(
        default=None,
        description="A chat background set on this device fails with this code.",
    )


class DeviceOut(WireModel):
    handle: str
    configured: bool
    profile: dict[str, Any]


class DeviceMessageIn(RequestModel):
    to: str | None = Field(default=None, description="The line to write to.")
    chat_id: str | None = Field(default=None, description="Or a chat the device is in.")
    text: str | None = Field(default=None, min_length=1, max_length=10_000)
    parts: list[PartIn] | None = None
    reply_to: str | None = None


class DeviceMessageOut(WireModel):
    # Both null, and ``dropped`` true, when the account blocked the device.
    message_id: str | None
    chat_id: str | None
    dropped: bool = False

    @classmethod
    def of(cls, message: Message | None) -> DeviceMessageOut:
        """What a device's message became; None: dropped, the account blocked the device."""
        if message is None:
            return cls(message_id=None, chat_id=None, dropped=True)
        return cls(message_id=message.id, chat_id=message.chat_id)


class DeviceBackgroundIn(BackgroundFields):
    """The device sets the chat's background (the fields of POST /v3/chats/{id}/background),
    or removes it with ``type: null``."""

    chat_id: str = Field(max_length=64)
    type: BackgroundType | None


class DroppedOut(WireModel):
    id: str
    handle: str
    line: str
    chat_id: str | None
    kind: Literal["message", "reaction"]
    summary: str
    received_at: datetime


class DroppedListOut(WireModel):
    dropped: list[DroppedOut]


class DeviceReactionIn(RequestModel):
    operation: Literal["add", "remove"] = "add"
    message_id: str
    type: Literal["love", "like", "dislike", "laugh", "emphasize", "question", "custom", "sticker"]
    custom_emoji: str | None = Field(default=None, max_length=16)
    emoji: str | None = Field(
        default=None, min_length=1, max_length=16, description="The sticker (type sticker)."
    )
    part_index: int = Field(default=0, ge=0)


class DevicePollIn(RequestModel):
    chat_id: str
    options: list[Annotated[str, Field(max_length=1_000)]] = Field(max_length=100)


class DevicePollVoteIn(RequestModel):
    message_id: str = Field(description="The poll's message id.")
    option_id: str
    operation: Literal["add", "remove"] = "add"


class DevicePollOptionsIn(RequestModel):
    message_id: str = Field(description="The poll's message id.")
    options: list[Annotated[str, Field(max_length=1_000)]] = Field(max_length=100)


class DeviceChatIn(RequestModel):
    chat_id: str


class DeviceTypingIn(RequestModel):
    chat_id: str
    state: Literal["started", "stopped"] = "started"


class ScreenMessageOut(WireModel):
    message_id: str
    chat_id: str
    direction: Literal["received", "sent"]
    counterpart: str
    service: ServiceType
    parts: list[dict[str, Any]]
    effect: EffectOut | None = None
    reply_to: ReplyToOut | None = None
    delivery_status: str
    at: datetime
    reactions: list[dict[str, Any]]
    edits: list[dict[str, Any]]
    poll: list[dict[str, Any]] | None = Field(
        default=None,
        description="A poll's options: option_id, text, votes, and whether this phone voted.",
    )


class ScreenOut(WireModel):
    handle: str
    messages: list[ScreenMessageOut]
    typing_in: list[str] = Field(description="Chats in which the device sees you typing.")
    contact_cards: list[dict[str, Any]] = Field(description="Contact cards shared with it.")


class CountOut(WireModel):
    count: int


class ClockOut(WireModel):
    now: datetime
    mode: Literal["real", "manual"]
    jobs_run: int = 0


class ClockAdvanceIn(RequestModel):
    seconds: float = Field(ge=0, le=30 * 86_400)


class EventOut(WireModel):
    event_id: str
    event_type: str
    created_at: datetime
    trace_id: str
    phone_number: str | None = None
    data: dict[str, Any]


class EventListOut(WireModel):
    events: list[EventOut]


class LineStatusIn(RequestModel):
    status: Literal["ACTIVE", "FLAGGED"]


class LineStatusOut(WireModel):
    id: str
    phone_number: str
    status: Literal["ACTIVE", "FLAGGED"]


class DevicePaymentIn(RequestModel):
    """The phone at a checkout: named by its link or by the agentpay card carrying it."""

    checkout_url: str | None = Field(default=None, max_length=4_096)
    message_id: str | None = Field(default=None, max_length=64)
    outcome: Literal["pay", "decline", "authorize"] = "pay"


class PaymentOnboardingIn(RequestModel):
    stripe_charges_enabled: bool | None = None
    natural_onboarded: bool | None = None


class PaymentOnboardingOut(WireModel):
    stripe_charges_enabled: bool
    natural_onboarded: bool
