"""Attachments."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from openlinq.api.schemas.common import RequestModel, WireModel


class AttachmentCreateIn(RequestModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=128)
    size_bytes: int


class AttachmentCreateOut(WireModel):
    attachment_id: str
    upload_url: str
    http_method: Literal["PUT"] = "PUT"
    required_headers: dict[str, str]
    download_url: str
    expires_at: datetime


class AttachmentOut(WireModel):
    id: str
    content_type: str
    created_at: datetime
    filename: str
    size_bytes: int
    status: Literal["pending", "complete", "failed"]
    download_url: str | None = None
