"""Agent payments: provider onboarding, handle connections, wallets, payments."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update

from openlinq.domain.ids import AccountId
from openlinq.store.engine import DbConnection
from openlinq.store.tables import (
    agent_payments,
    payment_handle_connections,
    payment_providers,
    payment_wallets,
)


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    account_id: AccountId
    provider: str
    status: str
    session_id: str | None
    return_url: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HandleConnection:
    account_id: AccountId
    handle: str
    id: str
    status: str  # pending | connected | revoked
    connect_id: str | None
    code: str | None
    code_expires_at: datetime | None
    code_sent_at: datetime | None
    attempts: int
    connected_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Wallet:
    account_id: AccountId
    handle: str
    card_on_file: bool
    approval_required: bool


@dataclass(frozen=True, slots=True)
class AgentPayment:
    id: str
    account_id: AccountId
    idempotency_key: str | None
    request_hash: str
    handle: str
    amount_cents: int
    currency: str
    description: str | None
    merchant: dict[str, str] | None
    metadata: dict[str, str] | None
    stage: str
    action_token: str | None
    action_expires_at: datetime | None
    card_ref: str | None
    card_expires_at: datetime | None
    user_token_hash: str | None
    user_token_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


def _build(cls: Any, row: Any) -> Any:
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


def _values(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}


class AgentPayRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def _upsert(self, table: Table, keys: dict[str, Any], record: Any) -> None:
        # Delete + insert: one statement shape on both backends, inside the caller's
        # write transaction (which already serialises writers of this row).
        condition = [table.c[name] == value for name, value in keys.items()]
        await self.conn.execute(table.delete().where(*condition))
        await self.conn.execute(table.insert().values(**_values(record)))

    # -- providers --------------------------------------------------------------------

    async def provider(self, account_id: AccountId, provider: str) -> ProviderRecord | None:
        row = (
            await self.conn.execute(
                select(payment_providers).where(
                    payment_providers.c.account_id == account_id,
                    payment_providers.c.provider == provider,
                )
            )
        ).first()
        return _build(ProviderRecord, row) if row else None

    async def provider_by_session(self, session_id: str) -> ProviderRecord | None:
        row = (
            await self.conn.execute(
                select(payment_providers).where(payment_providers.c.session_id == session_id)
            )
        ).first()
        return _build(ProviderRecord, row) if row else None

    async def save_provider(self, record: ProviderRecord) -> None:
        keys = {"account_id": record.account_id, "provider": record.provider}
        await self._upsert(payment_providers, keys, record)

    # -- handle connections -----------------------------------------------------------

    async def connection(self, account_id: AccountId, handle: str) -> HandleConnection | None:
        row = (
            await self.conn.execute(
                select(payment_handle_connections).where(
                    payment_handle_connections.c.account_id == account_id,
                    payment_handle_connections.c.handle == handle,
                )
            )
        ).first()
        return _build(HandleConnection, row) if row else None

    async def save_connection(self, record: HandleConnection) -> None:
        keys = {"account_id": record.account_id, "handle": record.handle}
        await self._upsert(payment_handle_connections, keys, record)

    # -- wallets ----------------------------------------------------------------------

    async def wallet(self, account_id: AccountId, handle: str) -> Wallet | None:
        row = (
            await self.conn.execute(
                select(payment_wallets).where(
                    payment_wallets.c.account_id == account_id,
                    payment_wallets.c.handle == handle,
                )
            )
        ).first()
        return _build(Wallet, row) if row else None

    async def save_wallet(self, record: Wallet) -> None:
        keys = {"account_id": record.account_id, "handle": record.handle}
        await self._upsert(payment_wallets, keys, record)

    # -- payments ---------------------------------------------------------------------

    async def payment(self, account_id: AccountId, payment_id: str) -> AgentPayment | None:
        row = (
            await self.conn.execute(
                select(agent_payments).where(
                    agent_payments.c.account_id == account_id, agent_payments.c.id == payment_id
                )
            )
        ).first()
        return _build(AgentPayment, row) if row else None

    async def payment_by_key(self, account_id: AccountId, key: str) -> AgentPayment | None:
        row = (
            await self.conn.execute(
                select(agent_payments).where(
                    agent_payments.c.account_id == account_id,
                    agent_payments.c.idempotency_key == key,
                )
            )
        ).first()
        return _build(AgentPayment, row) if row else None

    async def payment_by_token(self, account_id: AccountId, token: str) -> AgentPayment | None:
        row = (
            await self.conn.execute(
                select(agent_payments).where(
                    agent_payments.c.account_id == account_id,
                    agent_payments.c.action_token == token,
                )
            )
        ).first()
        return _build(AgentPayment, row) if row else None

    async def payment_by_any_token(self, token: str) -> AgentPayment | None:
        """For the provider's hosted pages, which the customer opens without an API key."""
        row = (
            await self.conn.execute(
                select(agent_payments).where(agent_payments.c.action_token == token)
            )
        ).first()
        return _build(AgentPayment, row) if row else None

    async def payment_by_card(self, card_ref: str) -> AgentPayment | None:
        row = (
            await self.conn.execute(
                select(agent_payments).where(agent_payments.c.card_ref == card_ref)
            )
        ).first()
        return _build(AgentPayment, row) if row else None

    async def payments_of_handle(self, account_id: AccountId, handle: str) -> list[AgentPayment]:
        rows = await self.conn.execute(
            select(agent_payments)
            .where(agent_payments.c.account_id == account_id, agent_payments.c.handle == handle)
            .order_by(agent_payments.c.created_at, agent_payments.c.id)
        )
        return [_build(AgentPayment, r) for r in rows]

    async def insert_payment(self, record: AgentPayment) -> None:
        await self.conn.execute(agent_payments.insert().values(**_values(record)))

    async def update_payment(self, payment_id: str, **values: Any) -> None:
        await self.conn.execute(
            update(agent_payments).where(agent_payments.c.id == payment_id).values(**values)
        )
