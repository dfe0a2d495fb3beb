"""/v3/phone_numbers, the deprecated /v3/phonenumbers, and /v3/available_number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from openlinq.api.deps import AccountDep, ServicesDep, list_query
from openlinq.api.schemas.lines import (
    AvailableNumberOut,
    LegacyPhoneNumberListOut,
    LegacyPhoneNumberOut,
    PhoneNumberListOut,
    PhoneNumberUpdateIn,
    PhoneNumberUpdateOut,
)
from openlinq.api.views import phone_number_out
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.models import LineType

router = APIRouter(tags=["phone numbers"])


@router.get("/phone_numbers", response_model=PhoneNumberListOut)
async def list_phone_numbers(account: AccountDep, services: ServicesDep) -> PhoneNumberListOut:
    lines = await services.lines.of_account(account)
    return PhoneNumberListOut(phone_numbers=[phone_number_out(line) for line in lines])


@router.put("/phone_numbers/{phone_number_id}", response_model=PhoneNumberUpdateOut)
async def update_phone_number(
    phone_number_id: str, body: PhoneNumberUpdateIn, account: AccountDep, services: ServicesDep
) -> PhoneNumberUpdateOut:
    line = await services.lines.set_forwarding(account, phone_number_id, body.forwarding_number)
    return PhoneNumberUpdateOut(
        id=line.id, phone_number=line.phone_number, forwarding_number=line.forwarding_number
    )


@router.get("/phonenumbers", response_model=LegacyPhoneNumberListOut, deprecated=True)
async def list_phonenumbers(account: AccountDep, services: ServicesDep) -> LegacyPhoneNumberListOut:
    lines = await services.lines.of_account(account)
    return LegacyPhoneNumberListOut(
        phone_numbers=[
            LegacyPhoneNumberOut.model_validate(
                {
                    "id": line.id,
                    "phone_number": line.phone_number,
                    "capabilities": {"mms": True, "sms": True, "voice": True},
                }
            )
            for line in lines
        ]
    )


@router.get("/available_number", response_model=AvailableNumberOut)
async def available_number(
    account: AccountDep,
    services: ServicesDep,
    to: Annotated[list[str] | None, Query(max_length=100)] = None,
    exclude_from: Annotated[list[str] | None, Query(max_length=100)] = None,
    type: Annotated[str | None, Query(max_length=16)] = None,
) -> AvailableNumberOut:
    line_type = _line_type(type)
    line, backups = await services.lines.available_number(
        account, to=list_query(to), exclude_from=list_query(exclude_from), line_type=line_type
    )
    return AvailableNumberOut(
        phone_number=line.phone_number, vcf_url=services.lines.vcard_link(line, backups)
    )


def _line_type(raw: str | None) -> LineType | None:
    if raw is None:
        return None
    for line_type in LineType:
        if line_type.value.lower() == raw.lower():
            return line_type
    raise LinqError(ErrorCode.INVALID_PARAMETER, "type must be iMessage or RCS")
