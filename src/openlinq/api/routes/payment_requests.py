"""/v3/payment_requests: checkout links a (simulated) payer pays, declines or lets expire."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.payment_requests import (
    PaymentFilter,
    PaymentRequestIn,
    PaymentRequestListOut,
    PaymentRequestOut,
)
from openlinq.domain.parts import MAX_IDEMPOTENCY_KEY
from openlinq.domain.payment_views import payment_request_view
from openlinq.store.repos.payment_requests import StoredPaymentRequest
from openlinq.wiring import Services

router = APIRouter(tags=["payment requests"])


def _out(services: Services, request: StoredPaymentRequest) -> PaymentRequestOut:
    return PaymentRequestOut.model_validate(
        payment_request_view(request, services.payment_requests.base_url)
    )


@router.post("/payment_requests", status_code=201, response_model=PaymentRequestOut)
async def create_payment_request(
    body: PaymentRequestIn,
    account: AccountDep,
    services: ServicesDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=MAX_IDEMPOTENCY_KEY)
    ] = None,
) -> PaymentRequestOut:
    request = await services.payment_requests.create(
        account,
        body.model_dump(mode="json", by_alias=True, exclude_none=True)
        | ({"trial_end": body.trial_end} if body.trial_end else {}),
        idempotency_key or None,  # an empty header is no key
    )
    return _out(services, request)


@router.get("/payment_requests", response_model=PaymentRequestListOut)
async def list_payment_requests(
    account: AccountDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    status: PaymentFilter | None = None,
) -> PaymentRequestListOut:
    rows, has_more = await services.payment_requests.page(
        account, status=status, offset=offset, limit=limit
    )
    return PaymentRequestListOut(
        object="list", data=[_out(services, r) for r in rows], has_more=has_more
    )


@router.get("/payment_requests/{payment_request_id}", response_model=PaymentRequestOut)
async def get_payment_request(
    payment_request_id: str, account: AccountDep, services: ServicesDep
) -> PaymentRequestOut:
    return _out(services, await services.payment_requests.get(account, payment_request_id))


@router.post("/payment_requests/{payment_request_id}/cancel", response_model=PaymentRequestOut)
async def cancel_payment_request(
    payment_request_id: str, account: AccountDep, services: ServicesDep
) -> PaymentRequestOut:
    return _out(services, await services.payment_requests.cancel(account, payment_request_id))
