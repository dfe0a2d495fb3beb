"""Requests and replies of the chat and message actions (edits, reactions, groups)."""

from __future__ import annotations

from pydantic import Field

from openlinq.api.schemas.common import ReactionTypeName, RequestModel, WireModel
from openlinq.domain.parts import MAX_TEXT_LENGTH


class AcceptedOut(WireModel):
    """The platform's ``{message, status, trace_id}`` acknowledgement."""

    message: str | None = None
    status: str | None = None
    trace_id: str | None = None


class MessageEditIn(RequestModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    part_index: int = Field(default=0, ge=0)


class PlacementIn(RequestModel):
    x: float | None = Field(default=None, ge=-1, le=1)
    y: float | None = Field(default=None, ge=-1, le=1)
    scale: float | None = None
    rotation: float | None = None


class PlacementPatchIn(RequestModel):
    placement: PlacementIn


class StickerPlacementOut(WireModel):
    status: str | None = None
    success: bool | None = None
    trace_id: str | None = None


class ReactionIn(RequestModel):
    operation: str = Field(pattern="^(add|remove)$")
    type: ReactionTypeName
    custom_emoji: str | None = Field(default=None, min_length=1, max_length=16)
    emoji: str | None = Field(default=None, min_length=1, max_length=16)
    url: str | None = Field(default=None, max_length=2048)
    attachment_id: str | None = Field(default=None, max_length=64)
    part_index: int = Field(default=0, ge=0)
    placement: PlacementIn | None = None


class HandleIn(RequestModel):
    handle: str = Field(max_length=320)
