"""The request of POST /v3/chats/{chatId}/background (and of a simulated phone's change)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openlinq.api.schemas.common import RequestModel
from openlinq.domain.backgrounds import BackgroundRequest

BackgroundType = Literal["color", "dynamic", "photo"]


class BackgroundFields(RequestModel):
    variant: str | None = Field(default=None, max_length=32)
    shades: list[str] | None = Field(default=None, max_length=2)
    style: str | None = Field(default=None, max_length=16)
    image_url: str | None = Field(default=None, max_length=2048)

    def request(self, background_type: BackgroundType) -> BackgroundRequest:
        return BackgroundRequest(
            type=background_type,
            variant=self.variant,
            shades=tuple(self.shades) if self.shades is not None else None,
            style=self.style,
            image_url=self.image_url,
        )


class BackgroundIn(BackgroundFields):
    type: BackgroundType
