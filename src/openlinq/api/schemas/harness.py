"""The test harness API (/sim/v1/accounts, /sim/v1/settle, next-message): openlinq's own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openlinq.api.schemas.common import RequestModel, WireModel
from openlinq.api.schemas.simulator import ScreenMessageOut

LineTypeName = Literal["iMessage", "RCS"]


def _one_imessage_line() -> list[LineTypeName]:
    return ["iMessage"]


class HarnessAccountIn(RequestModel):
    name: str = Field(default="test", min_length=1, max_length=100)
    lines: list[LineTypeName] = Field(
        default_factory=_one_imessage_line,
        min_length=1,
        max_length=10,
        description="One line of each listed type, each on a fresh number.",
    )


class HarnessLineOut(WireModel):
    id: str
    phone_number: str
    type: LineTypeName


class HarnessAccountOut(WireModel):
    account_id: str
    api_key: str = Field(description="Shown once: the account's key.")
    base_url: str = Field(description="What the SDKs take as LINQ_API_V3_BASE_URL.")
    lines: list[HarnessLineOut]


class SettleIn(RequestModel):
    max_seconds: float = Field(
        default=120.0,
        ge=0,
        le=30 * 86_400,
        description="How far a manual clock may move to reach pending jobs (0: only due ones).",
    )


class SettleOut(WireModel):
    jobs_run: int
    advanced_seconds: float
    pending: int = Field(description="Jobs still queued past the horizon.")


class NextMessageOut(WireModel):
    message: ScreenMessageOut | None = Field(description="None: nothing arrived in time.")
    text: str | None = Field(default=None, description="The message's text parts, joined.")
