"""Message content (requests) and messages (responses)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt

from openlinq.api.schemas.common import (
    ChatHandleOut,
    DeliveryStatusName,
    EffectOut,
    PartOut,
    ReplyToOut,
    RequestModel,
    ServiceType,
    WireModel,
)
from openlinq.domain.card_parts import MAX_DATA_URL, MAX_LAYOUT_TEXT
from openlinq.domain.messaging import MAX_GROUP_RECIPIENTS
from openlinq.domain.parts import (
    MAX_IDEMPOTENCY_KEY,
    MAX_INLINE_STICKERS,
    MAX_TEXT_DECORATIONS,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
)

Range = Annotated[list[int], Field(min_length=2, max_length=2)]


class TextDecorationIn(RequestModel):
    range: Range
    style: Literal["bold", "italic", "strikethrough", "underline"] | None = None
    animation: (
        Literal["big", "small", "shake", "nod", "explode", "ripple", "bloom", "jitter"] | None
    ) = None


class InlineStickerIn(RequestModel):
    range: Range
    attachment_id: str | None = None
    url: str | None = None


class TextPartIn(RequestModel):
    type: Literal["text"]
    value: str = Field(max_length=MAX_TEXT_LENGTH)
    # Bounded here, so an oversized list is refused before any of it is parsed.
    text_decorations: list[TextDecorationIn] | None = Field(
        default=None, max_length=MAX_TEXT_DECORATIONS
    )
    inline_stickers: list[InlineStickerIn] | None = Field(
        default=None, max_length=MAX_INLINE_STICKERS
    )
    mention: str | None = None
    mention_range: Range | None = None


class MediaPartIn(RequestModel):
    type: Literal["media"]
    url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    attachment_id: str | None = None
    sticker: bool | None = None


class LinkPartIn(RequestModel):
    type: Literal["link"]
    value: str = Field(max_length=MAX_URL_LENGTH)


class AppIdentityIn(RequestModel):
    bundle_id: str = Field(max_length=255)
    name: str = Field(max_length=255)
    team_id: str = Field(max_length=16)
    app_store_id: StrictInt | None = Field(default=None, ge=0, le=2**53)


class AppLayoutIn(RequestModel):
    """Every layout field is text (the contract's ``str``): anything else is refused here,
    before it can be stored and then fail to render."""

    caption: str | None = Field(default=None, max_length=MAX_LAYOUT_TEXT)
    subcaption: str | None = Field(default=None, max_length=MAX_LAYOUT_TEXT)
    trailing_caption: str | None = Field(default=None, max_length=MAX_LAYOUT_TEXT)
    trailing_subcaption: str | None = Field(default=None, max_length=MAX_LAYOUT_TEXT)
    image_url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    image_title: str | None = Field(default=None, max_length=MAX_LAYOUT_TEXT)
    image_subtitle: str | None = Field(default=None, max_length=MAX_LAYOUT_TEXT)


class IMessageAppPartIn(RequestModel):
    type: Literal["imessage_app"]
    app: AppIdentityIn
    layout: AppLayoutIn
    fallback_text: str | None = Field(default=None, max_length=MAX_LAYOUT_TEXT)
    interactive: bool | None = None
    url: str | None = Field(default=None, max_length=MAX_DATA_URL)


class AppClipPartIn(RequestModel):
    type: Literal["app_clip"]
    value: str
    caption: str | None = None


PartIn = Annotated[
    TextPartIn | MediaPartIn | LinkPartIn | IMessageAppPartIn | AppClipPartIn,
    Field(discriminator="type"),
]


class EffectIn(RequestModel):
    name: str | None = None
    type: Literal["screen", "bubble"] | None = None


class ReplyToIn(RequestModel):
    message_id: str = Field(max_length=64)
    part_index: int | None = Field(default=None, ge=0)


class ExperienceIn(RequestModel):
    name: str
    action: str
    params: dict[str, Any] | None = None


class MessageContentIn(RequestModel):
    parts: list[PartIn] | None = None
    experience: ExperienceIn | None = None
    effect: EffectIn | None = None
    reply_to: ReplyToIn | None = None
    preferred_service: ServiceType | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY)


class MessageSendIn(RequestModel):
    message: MessageContentIn
    override_optout: bool | None = None


class ContinuationIn(RequestModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)


# Recipient lists are refused past the group limit before any handle is parsed.
Recipients = Annotated[list[str], Field(min_length=1, max_length=MAX_GROUP_RECIPIENTS)]


class MessageCreateIn(RequestModel):
    to: Recipients
    message: MessageContentIn
    continuation_message: ContinuationIn | None = None
    exclude_from: list[str] | None = Field(default=None, max_length=1_000)
    override_optout: bool | None = None


class SentMessageOut(WireModel):
    id: str
    created_at: datetime
    delivery_status: DeliveryStatusName
    is_read: bool
    parts: list[PartOut]
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    effect: EffectOut | None = None
    from_handle: ChatHandleOut | None = None
    preferred_service: ServiceType | None = None
    reply_to: ReplyToOut | None = None
    service: ServiceType | None = None


class MessageOut(WireModel):
    id: str
    chat_id: str
    created_at: datetime
    updated_at: datetime
    delivery_status: DeliveryStatusName
    is_delivered: bool
    is_from_me: bool
    is_read: bool
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    sent_at: datetime | None = None
    effect: EffectOut | None = None
    from_: str | None = Field(default=None, alias="from")
    from_handle: ChatHandleOut | None = None
    parts: list[PartOut] | None = None
    preferred_service: ServiceType | None = None
    reply_to: ReplyToOut | None = None
    service: ServiceType | None = None


class MessageSendOut(WireModel):
    chat_id: str
    message: SentMessageOut


class MessagePageOut(WireModel):
    messages: list[MessageOut]
    next_cursor: str | None = None


class FromSelectionOut(WireModel):
    reason: Literal["reused_active_chat", "new_best_number", "failover_flagged"]
    reused_existing_chat: bool


class MessageCreateOut(WireModel):
    chat_id: str
    created_new_chat: bool
    from_: str = Field(alias="from")
    from_selection: FromSelectionOut
    handles: list[ChatHandleOut]
    is_group: bool
    message: SentMessageOut
    service: ServiceType
    previous_chat_id: str | None = None
