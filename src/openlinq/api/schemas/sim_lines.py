"""/sim/v1 line provisioning and recipient-side events: openlinq's own, not the contract."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from openlinq.api.schemas.common import RequestModel, WireModel


class SimLineIn(RequestModel):
    phone_number: str = Field(max_length=32, description="E.164 number to assign.")
    type: Literal["iMessage", "RCS"] = "iMessage"
    rcs_enabled: bool = True


class SimLineChangeIn(RequestModel):
    # A misspelt setting must not silently leave the line as it was.
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    zero_retention: bool | None = Field(
        default=None, description="Zero data retention: message events carry no content."
    )
    group_update_error: Literal[3007, 4001] | None = Field(
        default=None,
        description="Make group name / icon updates on this line fail with this code (null: "
        "succeed again).",
    )


class SimLineOut(WireModel):
    id: str
    phone_number: str
    type: Literal["iMessage", "RCS"]
    status: Literal["ACTIVE", "FLAGGED"]
    released: bool
    zero_retention: bool
    group_update_error: int | None


class DeviceContactCardIn(RequestModel):
    to: str = Field(max_length=32, description="Your line the card is shared with.")
    first_name: str = Field(min_length=1, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    media_url: str | None = Field(default=None, max_length=2048)
