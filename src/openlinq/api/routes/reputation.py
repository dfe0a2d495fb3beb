"""/v3/phone_numbers/{phoneNumber}/reputation_audit: start an audit of a line, read it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.reputation import AuditOut, AuditStartedOut
from openlinq.domain.reputation_views import audit_view

router = APIRouter(tags=["phone numbers"])

# Room for a mistaken line id (36 characters), so it is told "not a phone number" (1002).
PhoneNumber = Annotated[str, Path(max_length=64)]
AuditId = Annotated[str, Path(max_length=64)]


@router.post(
    "/phone_numbers/{phone_number}/reputation_audit",
    status_code=202,
    response_model=AuditStartedOut,
)
async def start_reputation_audit(
    phone_number: PhoneNumber, account: AccountDep, services: ServicesDep
) -> AuditStartedOut:
    audit = await services.reputation.start(account, phone_number)
    return AuditStartedOut(audit_id=audit.id, status=audit.status.value)


@router.get(
    "/phone_numbers/{phone_number}/reputation_audit/{audit_id}",
    response_model=AuditOut,
    response_model_exclude_none=True,
)
async def get_reputation_audit(
    phone_number: PhoneNumber, audit_id: AuditId, account: AccountDep, services: ServicesDep
) -> AuditOut:
    audit, line = await services.reputation.get(account, phone_number, audit_id)
    return AuditOut.model_validate(audit_view(audit, line.phone_number))
