"""Payment requests and each account's payment onboarding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from openlinq.domain.ids import AccountId
from openlinq.store.engine import DbConnection
from openlinq.store.tables import payment_accounts, payment_requests


@dataclass(frozen=True, slots=True)
class StoredPaymentRequest:
    id: str
    account_id: AccountId
    status: str
    payer_state: str | None
    checkout_session: str
    idempotency_key: str | None
    request_hash: str | None
    # The contract's fields that are not columns: amount, currency, mode, rail, ...
    details: dict[str, Any]
    expires_at: datetime
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentOnboarding:
    stripe_charges_enabled: bool
    natural_onboarded: bool


def _request(row: Any) -> StoredPaymentRequest:
    return StoredPaymentRequest(
        row.id,
        AccountId(row.account_id),
        row.status,
        row.payer_state,
        row.checkout_session,
        row.idempotency_key,
        row.request_hash,
        dict(row.details),
        row.expires_at,
        row.paid_at,
        row.created_at,
        row.updated_at,
    )


_COLUMNS = [c for c in payment_requests.c if c.name != "seq"]


class PaymentRequestRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def add(self, request: StoredPaymentRequest) -> None:
        await self.conn.execute(
            payment_requests.insert().values(
                id=request.id,
                account_id=request.account_id,
                status=request.status,
                payer_state=request.payer_state,
                checkout_session=request.checkout_session,
                idempotency_key=request.idempotency_key,
                request_hash=request.request_hash,
                details=request.details,
                expires_at=request.expires_at,
                paid_at=request.paid_at,
                created_at=request.created_at,
                updated_at=request.updated_at,
            )
        )

    async def get(self, account_id: AccountId, request_id: str) -> StoredPaymentRequest | None:
        rows = await self.conn.execute(
            select(*_COLUMNS).where(
                payment_requests.c.account_id == account_id, payment_requests.c.id == request_id
            )
        )
        row = rows.first()
        return _request(row) if row else None

    async def any_account(self, request_id: str) -> StoredPaymentRequest | None:
        """For the expiry job, which runs on no account's behalf."""
        rows = await self.conn.execute(select(*_COLUMNS).where(payment_requests.c.id == request_id))
        row = rows.first()
        return _request(row) if row else None

    async def by_session(self, session: str) -> StoredPaymentRequest | None:
        """The request a checkout link names (the link is the payer's only credential)."""
        rows = await self.conn.execute(
            select(*_COLUMNS).where(payment_requests.c.checkout_session == session)
        )
        row = rows.first()
        return _request(row) if row else None

    async def by_idempotency_key(
        self, account_id: AccountId, key: str
    ) -> StoredPaymentRequest | None:
        rows = await self.conn.execute(
            select(*_COLUMNS).where(
                payment_requests.c.account_id == account_id,
                payment_requests.c.idempotency_key == key,
            )
        )
        row = rows.first()
        return _request(row) if row else None

    async def page(
        self,
        account_id: AccountId,
        *,
        status: str | None,
        payer_state: str | None,
        offset: int,
        limit: int,
    ) -> list[StoredPaymentRequest]:
        """Newest first; ``limit`` rows at most (ask for one more to learn if more exist)."""
        query = select(*_COLUMNS).where(payment_requests.c.account_id == account_id)
        if status is not None:
            query = query.where(payment_requests.c.status == status)
        if payer_state is not None:
            query = query.where(payment_requests.c.payer_state == payer_state)
        rows = await self.conn.execute(
            query.order_by(payment_requests.c.seq.desc()).offset(offset).limit(limit)
        )
        return [_request(r) for r in rows]

    async def save(self, request: StoredPaymentRequest) -> None:
        await self.conn.execute(
            update(payment_requests)
            .where(payment_requests.c.id == request.id)
            .values(
                status=request.status,
                payer_state=request.payer_state,
                details=request.details,
                paid_at=request.paid_at,
                updated_at=request.updated_at,
            )
        )

    # -- onboarding ----------------------------------------------------------------

    async def onboarding(self, account_id: AccountId) -> PaymentOnboarding | None:
        rows = await self.conn.execute(
            select(payment_accounts).where(payment_accounts.c.account_id == account_id)
        )
        row = rows.first()
        if row is None:
            return None
        return PaymentOnboarding(row.stripe_charges_enabled, row.natural_onboarded)

    async def put_onboarding(
        self, account_id: AccountId, onboarding: PaymentOnboarding, now: datetime
    ) -> None:
        await self.conn.execute(
            payment_accounts.delete().where(payment_accounts.c.account_id == account_id)
        )
        await self.conn.execute(
            payment_accounts.insert().values(
                account_id=account_id,
                stripe_charges_enabled=onboarding.stripe_charges_enabled,
                natural_onboarded=onboarding.natural_onboarded,
                updated_at=now,
            )
        )
