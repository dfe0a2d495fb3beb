"""Phone numbers, available numbers and capability checks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openlinq.api.schemas.common import LineTypeName, RequestModel, WireModel


class ReputationOut(WireModel):
    doc_url: str
    status: Literal["HEALTHY", "AT_RISK", "CRITICAL"]


class PhoneNumberOut(WireModel):
    id: str
    phone_number: str
    reputation: ReputationOut
    forwarding_number: str | None = None
    line_type: LineTypeName | None = None


class PhoneNumberListOut(WireModel):
    phone_numbers: list[PhoneNumberOut]


class PhoneNumberUpdateIn(RequestModel):
    forwarding_number: str | None = Field(max_length=32)


class PhoneNumberUpdateOut(WireModel):
    id: str
    phone_number: str
    forwarding_number: str | None = None


class CapabilitiesOut(WireModel):
    mms: bool
    sms: bool
    voice: bool


class LegacyPhoneNumberOut(WireModel):
    id: str
    phone_number: str
    capabilities: CapabilitiesOut | None = None
    country_code: str | None = None
    type: str | None = None


class LegacyPhoneNumberListOut(WireModel):
    phone_numbers: list[LegacyPhoneNumberOut]


class AvailableNumberOut(WireModel):
    phone_number: str
    vcf_url: str


class HandleCheckIn(RequestModel):
    address: str = Field(max_length=320)
    from_: str | None = Field(default=None, alias="from", max_length=32)


class HandleCheckOut(WireModel):
    address: str
    available: bool
    reason: Literal["not_supported"] | None = None
    selected_service: str | None = None
