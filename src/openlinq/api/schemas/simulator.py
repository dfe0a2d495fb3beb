"""The simulator control API (/sim/v1): openlinq's own, not part of the Linq contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from openlinq.api.schemas.common import EffectOut, ReplyToOut, RequestModel, ServiceType, WireModel
from openlinq.api.schemas.messages import PartIn


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
    react: Literal["love", "like", "dislike", "laugh", "emphasize", "question"] | None = None
    location: tuple[float, float] | None = Field(
        default=None, description="[longitude, latitude]: the device answers location requests."
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
    message_id: str
    chat_id: str


class DeviceReactionIn(RequestModel):
    operation: Literal["add", "remove"] = "add"
    message_id: str
    type: Literal["love", "like", "dislike", "laugh", "emphasize", "question", "custom"]
    custom_emoji: str | None = Field(default=None, max_length=16)
    part_index: int = Field(default=0, ge=0)


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
