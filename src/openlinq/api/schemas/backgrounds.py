"""The request of POST /v3/chats/{chatId}/background."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openlinq.api.schemas.common import RequestModel


class BackgroundIn(RequestModel):
    type: Literal["color", "dynamic", "photo"]
    variant: str | None = Field(default=None, max_length=32)
    shades: list[str] | None = Field(default=None, max_length=2)
    style: str | None = Field(default=None, max_length=16)
    image_url: str | None = Field(default=None, max_length=2048)
