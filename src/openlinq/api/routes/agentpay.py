"""/v3/payments: agent payments with single-use virtual cards (simulated agentcard provider)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.agentpay import (
    CredentialsOut,
    HandleConnectionOut,
    HandleVerifyIn,
    HandoffOut,
    PaymentIn,
    PaymentOut,
    ProviderConnectIn,
    ProviderConnectOut,
    ProviderOut,
)
from openlinq.domain.agentpay import ConnectionResult, payment_input
from openlinq.domain.agentpay_views import payment_fields
from openlinq.domain.parts import MAX_IDEMPOTENCY_KEY

router = APIRouter(tags=["agent payments"])


def _connection_out(result: ConnectionResult) -> HandleConnectionOut:
    return HandleConnectionOut(
        handle=result.handle,
        status=result.status,
        connect_id=result.connect_id,
    )


@router.get("/payments/providers/{provider}", response_model=ProviderOut)
async def retrieve_provider(
    provider: str, account: AccountDep, services: ServicesDep
) -> ProviderOut:
    status = await services.agentpay.provider_status(account, provider)
    return ProviderOut(provider=provider, status=status)


@router.post("/payments/providers/{provider}/connect", response_model=ProviderConnectOut)
async def connect_provider(
    provider: str, body: ProviderConnectIn, account: AccountDep, services: ServicesDep
) -> ProviderConnectOut:
    hosted_url, session_id, status = await services.agentpay.connect_provider(
        account, provider, body.return_url
    )
    return ProviderConnectOut(hosted_url=hosted_url, session_id=session_id, status=status)


@router.post("/payments/handles/{handle}/connect", response_model=HandleConnectionOut)
async def connect_handle(
    handle: str, account: AccountDep, services: ServicesDep
) -> HandleConnectionOut:
    return _connection_out(await services.agentpay.connect_handle(account, handle))


@router.post("/payments/handles/{handle}/verify", response_model=HandleConnectionOut)
async def verify_handle(
    handle: str, body: HandleVerifyIn, account: AccountDep, services: ServicesDep
) -> HandleConnectionOut:
    result = await services.agentpay.verify_handle(account, handle, body.code, body.connect_id)
    return _connection_out(result)


@router.get("/payments/handles/{handle}/connection", response_model=HandleConnectionOut)
async def handle_connection(
    handle: str, account: AccountDep, services: ServicesDep
) -> HandleConnectionOut:
    return _connection_out(await services.agentpay.connection(account, handle))


@router.delete("/payments/handles/{handle}/connection", response_model=HandleConnectionOut)
async def revoke_handle(
    handle: str, account: AccountDep, services: ServicesDep
) -> HandleConnectionOut:
    return _connection_out(await services.agentpay.revoke(account, handle))


@router.post("/payments", response_model=PaymentOut)
async def create_payment(
    body: PaymentIn,
    account: AccountDep,
    services: ServicesDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=MAX_IDEMPOTENCY_KEY)
    ] = None,
) -> PaymentOut:
    request = payment_input(
        body.handle,
        body.amount_cents,
        body.currency,
        body.description,
        body.merchant.model_dump() if body.merchant is not None else None,
        body.metadata,
    )
    result = await services.agentpay.create_payment(account, request, idempotency_key or None)
    return PaymentOut.model_validate(payment_fields(result))


@router.get("/payments/{payment_id}", response_model=PaymentOut)
async def retrieve_payment(
    payment_id: str, account: AccountDep, services: ServicesDep
) -> PaymentOut:
    return PaymentOut.model_validate(
        payment_fields(await services.agentpay.payment(account, payment_id))
    )


@router.post("/payments/{payment_id}/cancel", response_model=PaymentOut)
async def cancel_payment(payment_id: str, account: AccountDep, services: ServicesDep) -> PaymentOut:
    return PaymentOut.model_validate(
        payment_fields(await services.agentpay.cancel(account, payment_id))
    )


@router.get("/payments/{payment_id}/credentials", response_model=CredentialsOut)
async def payment_credentials(
    payment_id: str, account: AccountDep, services: ServicesDep
) -> CredentialsOut:
    handoff = await services.agentpay.credentials(account, payment_id)
    return CredentialsOut(
        handoff=HandoffOut(
            provider=handoff.provider,
            card_ref=handoff.card_ref,
            fetch_url=handoff.fetch_url,
            user_token=handoff.user_token,
        )
    )
