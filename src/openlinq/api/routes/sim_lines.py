"""/sim/v1 lines and cards: assign, release and configure lines, and a phone sharing its
contact card: the platform-side changes behind phone_number.assigned / released,
zero_day_retention.updated, chat.group_*_update_failed and contact_card.*."""

from __future__ import annotations

from fastapi import APIRouter, Response

from openlinq.api.deps import AccountDep, ServicesDep, phone_query
from openlinq.api.schemas.sim_lines import (
    DeviceContactCardIn,
    SimLineChangeIn,
    SimLineIn,
    SimLineOut,
)
from openlinq.domain.models import Line, LineType

router = APIRouter(prefix="/sim/v1", tags=["simulator"])


def _line_out(line: Line) -> SimLineOut:
    return SimLineOut(
        id=line.id,
        phone_number=line.phone_number,
        type=line.line_type.value,
        status=line.status.value,
        released=line.released_at is not None,
        zero_retention=line.zero_retention,
        group_update_error=line.sim_group_update_error,
    )


@router.post("/lines", status_code=201, response_model=SimLineOut)
async def assign_line(body: SimLineIn, account: AccountDep, services: ServicesDep) -> SimLineOut:
    """Give the account a line (phone_number.assigned); a released number comes back."""
    line = await services.accounts.add_line(
        account.id,
        body.phone_number,
        LineType(body.type),
        rcs_enabled=body.rcs_enabled,
        origin="linq",
    )
    return _line_out(line)


@router.delete("/lines/{phone_number}", status_code=204, response_class=Response)
async def release_line(phone_number: str, account: AccountDep, services: ServicesDep) -> Response:
    """Take the line away (phone_number.released); its chats stay readable."""
    await services.accounts.release_line(account.id, phone_query(phone_number) or "")
    return Response(status_code=204)


@router.patch("/lines/{phone_number}", response_model=SimLineOut)
async def change_line(
    phone_number: str, body: SimLineChangeIn, account: AccountDep, services: ServicesDep
) -> SimLineOut:
    number = phone_query(phone_number) or ""
    given = body.model_dump(exclude_unset=True)
    line = None
    if "zero_retention" in given and body.zero_retention is not None:
        line = await services.lines.set_zero_retention(account, number, body.zero_retention, "linq")
    if "group_update_error" in given:
        line = await services.lines.set_group_update_error(account, number, body.group_update_error)
    if line is None:
        line = await services.lines.line(account, number)
    return _line_out(line)


@router.delete("/lines/{phone_number}/contact-card", status_code=204, response_class=Response)
async def delete_contact_card(
    phone_number: str, account: AccountDep, services: ServicesDep
) -> Response:
    """Remove the line's contact card (contact_card.deleted); the SDK has no endpoint."""
    await services.contact_cards.delete(account, phone_query(phone_number) or "", "linq")
    return Response(status_code=204)


@router.post("/devices/{handle}/contact-card", status_code=204, response_class=Response)
async def device_shares_card(
    handle: str, body: DeviceContactCardIn, account: AccountDep, services: ServicesDep
) -> Response:
    """The phone shares its own contact card with a line (contact_card.received)."""
    await services.contact_cards.received(
        account,
        body.to,
        phone_query(handle) or "",
        body.first_name,
        body.last_name,
        body.media_url,
    )
    return Response(status_code=204)
