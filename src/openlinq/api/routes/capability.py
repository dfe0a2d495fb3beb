"""/v3/capability: can a handle receive iMessage, or RCS?"""

from __future__ import annotations

from fastapi import APIRouter

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.lines import HandleCheckIn, HandleCheckOut
from openlinq.domain.capability import CapabilityAnswer

router = APIRouter(tags=["capability"])


def _out(answer: CapabilityAnswer) -> HandleCheckOut:
    return HandleCheckOut(
        address=answer.address,
        available=answer.available,
        reason="not_supported" if answer.reason else None,
        selected_service=answer.selected_service.value if answer.selected_service else None,
    )


@router.post("/capability/check_imessage", response_model=HandleCheckOut)
async def check_imessage(
    body: HandleCheckIn, account: AccountDep, services: ServicesDep
) -> HandleCheckOut:
    return _out(await services.capability.check_imessage(account, body.address, body.from_))


@router.post("/capability/check_rcs", response_model=HandleCheckOut)
async def check_rcs(
    body: HandleCheckIn, account: AccountDep, services: ServicesDep
) -> HandleCheckOut:
    return _out(await services.capability.check_rcs(account, body.address, body.from_))
