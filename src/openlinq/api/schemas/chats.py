"""Chats."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from openlinq.api.schemas.common import (
    ChatHandleOut,
    HealthStatusOut,
    RequestModel,
    ServiceType,
    WireModel,
)
from openlinq.api.schemas.messages import MessageContentIn, Recipients, SentMessageOut
from openlinq.domain.chats import MAX_DISPLAY_NAME


class ChatCreateIn(RequestModel):
    from_: str = Field(alias="from")
    to: Recipients
    message: MessageContentIn
    override_optout: bool | None = None


class ChatUpdateIn(RequestModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=MAX_DISPLAY_NAME)
    group_chat_icon: str | None = Field(default=None, max_length=2048)


class ChatOut(WireModel):
    id: str
    created_at: datetime
    updated_at: datetime
    display_name: str | None = None
    handles: list[ChatHandleOut]
    health_status: HealthStatusOut
    is_archived: bool
    is_group: bool
    group_chat_icon: str | None = None
    service: ServiceType | None = None


class CreatedChatOut(WireModel):
    id: str
    display_name: str | None = None
    handles: list[ChatHandleOut]
    health_status: HealthStatusOut
    is_group: bool
    message: SentMessageOut
    service: ServiceType


class ChatCreateOut(WireModel):
    chat: CreatedChatOut


class ChatPageOut(WireModel):
    chats: list[ChatOut]
    next_cursor: str | None = None


class ChatUpdateOut(WireModel):
    chat_id: str | None = None
    status: str | None = None
