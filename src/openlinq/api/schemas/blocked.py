"""Requests and replies of /v3/blocked_handles."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from openlinq.api.schemas.common import RequestModel, WireModel


class BlockIn(RequestModel):
    handle: str = Field(max_length=320)
    reason: str | None = Field(default=None, max_length=500)


class UnblockIn(RequestModel):
    handle: str = Field(max_length=320)


class BlockedHandleOut(WireModel):
    handle: str
    blocked_at: datetime
    reason: str | None = None


class BlockOut(WireModel):
    blocked_handle: BlockedHandleOut


class BlockedListOut(WireModel):
    blocked_handles: list[BlockedHandleOut]
