"""Shapes shared by several resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

ServiceType = Literal["iMessage", "SMS", "RCS"]
LineTypeName = Literal["iMessage", "RCS"]
DeliveryStatusName = Literal["pending", "queued", "sent", "delivered", "received", "read", "failed"]
ReactionTypeName = Literal[
    "love", "like", "dislike", "laugh", "emphasize", "question", "custom", "sticker"
]


class WireModel(BaseModel):
    """Response models: built from domain views, serialised by alias."""

    model_config = ConfigDict(populate_by_name=True)


class RequestModel(BaseModel):
    """Request bodies: unknown fields are ignored, as the platform does."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-23:59 is past year 9999 in UTC
        raise ValueError("out of range once converted to UTC") from exc


# A moment a client sends: with its offset, and one UTC can represent (stored and compared
# in UTC, so an offset that pushes it past year 9999 must be refused here, not fail later).
UtcMoment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class ChatHandleOut(WireModel):
    id: str
    handle: str
    joined_at: datetime
    service: ServiceType
    is_me: bool | None = None
    left_at: datetime | None = None
    line_type: LineTypeName | None = None
    status: Literal["active", "left", "removed"] | None = None


class HealthStatusOut(WireModel):
    doc_url: str
    status: Literal["HEALTHY", "AT_RISK", "CRITICAL", "OPTED_OUT"]
    updated_at: datetime


class EffectOut(WireModel):
    name: str | None = None
    type: Literal["screen", "bubble"] | None = None


class ReplyToOut(WireModel):
    message_id: str
    part_index: int | None = None


class ReactionOut(WireModel):
    handle: ChatHandleOut
    is_me: bool
    type: ReactionTypeName
    id: str | None = None
    custom_emoji: str | None = None
    sticker: dict[str, Any] | None = None
    # openlinq's own: where a sticker sits (the contract's Reaction has no such field).
    placement: dict[str, float] | None = None


class TextDecorationOut(WireModel):
    range: list[int]
    style: Literal["bold", "italic", "strikethrough", "underline"] | None = None
    animation: (
        Literal["big", "small", "shake", "nod", "explode", "ripple", "bloom", "jitter"] | None
    ) = None


class MentionOut(WireModel):
    handle: str
    is_me: bool
    range: list[int]


class TextPartOut(WireModel):
    type: Literal["text"]
    value: str
    reactions: list[ReactionOut] | None = None
    inline_stickers: list[dict[str, Any]] | None = None
    mention: str | None = None
    mention_range: list[int] | None = None
    mentions: list[MentionOut] | None = None
    text_decorations: list[TextDecorationOut] | None = None


class MediaPartOut(WireModel):
    type: Literal["media"]
    id: str
    filename: str
    mime_type: str
    size_bytes: int
    url: str
    reactions: list[ReactionOut] | None = None


class LinkPartOut(WireModel):
    type: Literal["link"]
    value: str
    reactions: list[ReactionOut] | None = None


class AppIdentityOut(WireModel):
    bundle_id: str
    name: str
    team_id: str
    app_store_id: int | None = None


class AppLayout(WireModel):
    """An app card's layout, as sent and as returned."""

    caption: str | None = None
    subcaption: str | None = None
    trailing_caption: str | None = None
    trailing_subcaption: str | None = None
    image_url: str | None = None
    image_title: str | None = None
    image_subtitle: str | None = None


class IMessageAppPartOut(WireModel):
    type: Literal["imessage_app"]
    app: AppIdentityOut
    layout: AppLayout
    url: str
    fallback_text: str | None = None
    reactions: list[ReactionOut] | None = None


class AppClipPartOut(WireModel):
    type: Literal["app_clip"]
    value: str
    title: str | None = None
    description: str | None = None
    image_url: str | None = None
    reactions: list[ReactionOut] | None = None


PartOut = Annotated[
    TextPartOut | MediaPartOut | LinkPartOut | IMessageAppPartOut | AppClipPartOut,
    Field(discriminator="type"),
]


class ErrorDetailOut(WireModel):
    status: int
    code: int
    message: str
    doc_url: str
    retry_after: int | None = None


class ErrorOut(WireModel):
    """The body of every error response."""

    success: Literal[False]
    error: ErrorDetailOut
    trace_id: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "The Linq error body"},
    "5XX": {"model": ErrorOut, "description": "The Linq error body"},
}
