"""Voice memos, contact cards, location and app-card updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from openlinq.api.schemas.common import (
    ChatHandleOut,
    RequestModel,
    ServiceType,
    WireModel,
)
from openlinq.api.schemas.messages import AppIdentityIn, AppLayoutIn, SentMessageOut
from openlinq.domain.card_parts import MAX_DATA_URL, MAX_LAYOUT_TEXT


class VoiceMemoIn(RequestModel):
    voice_memo_url: str | None = Field(default=None, max_length=2048)
    attachment_id: str | None = Field(default=None, max_length=64)
    override_optout: bool | None = None


class VoiceMemoChatOut(WireModel):
    id: str
    handles: list[ChatHandleOut]
    is_active: bool
    is_group: bool
    service: ServiceType


class VoiceMemoFileOut(WireModel):
    id: str
    filename: str
    mime_type: str
    size_bytes: int
    url: str
    duration_ms: int | None = None


class VoiceMemoOut(WireModel):
    id: str
    chat: VoiceMemoChatOut
    created_at: datetime
    from_: str = Field(alias="from")
    status: str
    to: list[str]
    voice_memo: VoiceMemoFileOut
    service: ServiceType | None = None


class VoiceMemoSendOut(WireModel):
    voice_memo: VoiceMemoOut


class ContactCardIn(RequestModel):
    phone_number: str = Field(max_length=32)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    image_url: str | None = Field(default=None, max_length=2048)


class ContactCardPatchIn(RequestModel):
    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    image_url: str | None = Field(default=None, max_length=2048)


class ContactCardOut(WireModel):
    first_name: str
    is_active: bool
    phone_number: str
    image_url: str | None = None
    last_name: str | None = None


class ContactCardListOut(WireModel):
    contact_cards: list[ContactCardOut]


class LocationStopIn(RequestModel):
    handle: str = Field(max_length=320)


class SuccessOut(WireModel):
    success: bool
    message: str


class LocationOut(WireModel):
    success: bool
    data: dict[str, Any]


class ExperienceIn(RequestModel):
    name: str
    action: str
    params: dict[str, Any] | None = None


class AppCardUpdateIn(RequestModel):
    layout: AppLayoutIn
    url: str | None = Field(default=None, max_length=MAX_DATA_URL)
    fallback_text: str | None = Field(default=None, max_length=MAX_LAYOUT_TEXT)
    interactive: bool = True
    experience: ExperienceIn | None = None
    app: AppIdentityIn | None = None


class AppCardUpdateOut(WireModel):
    chat_id: str
    message: SentMessageOut


class DeviceLocationIn(RequestModel):
    to: str | None = Field(default=None, description="The line the device shares with.")
    chat_id: str | None = Field(default=None, description="Or a chat with that line.")
    longitude: float = Field(ge=-180, le=180)
    latitude: float = Field(ge=-90, le=90)
    altitude: float | None = None
    address: str | None = Field(default=None, max_length=500)
    locality: str | None = Field(default=None, max_length=200)
    duration_seconds: float | None = Field(default=None, gt=0, le=30 * 86_400)


DeviceLocationMode = Literal["share", "stop"]
