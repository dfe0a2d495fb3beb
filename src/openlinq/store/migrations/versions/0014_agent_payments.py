"""agent payments: providers, handle connections, simulated wallets, payments

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 03:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import openlinq.store.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _moment(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, openlinq.store.types.UTCDateTime(timezone=True), nullable=nullable)


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"], ["accounts.id"], name=op.f(f"fk_{table}_account_id_accounts")
    )


def upgrade() -> None:
    op.create_table(
        "payment_providers",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=True),
        _moment("updated_at", False),
        _account_fk("payment_providers"),
        sa.PrimaryKeyConstraint("account_id", "provider", name=op.f("pk_payment_providers")),
        sa.UniqueConstraint("session_id", name=op.f("uq_payment_providers_session_id")),
    )
    op.create_table(
        "payment_handle_connections",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("connect_id", sa.String(length=64), nullable=True),
        sa.Column("code", sa.String(length=12), nullable=True),
        _moment("code_expires_at", True),
        _moment("code_sent_at", True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _moment("connected_at", True),
        _moment("created_at", False),
        _moment("updated_at", False),
        _account_fk("payment_handle_connections"),
        sa.PrimaryKeyConstraint("account_id", "handle", name=op.f("pk_payment_handle_connections")),
    )
    op.create_table(
        "payment_wallets",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("card_on_file", sa.Boolean(), nullable=False),
        sa.Column("approval_required", sa.Boolean(), nullable=False),
        _account_fk("payment_wallets"),
        sa.PrimaryKeyConstraint("account_id", "handle", name=op.f("pk_payment_wallets")),
    )
    op.create_table(
        "agent_payments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("merchant", _JSON, nullable=True),
        sa.Column("metadata", _JSON, nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("action_token", sa.String(length=64), nullable=True),
        _moment("action_expires_at", True),
        sa.Column("card_ref", sa.String(length=64), nullable=True),
        _moment("card_expires_at", True),
        sa.Column("user_token_hash", sa.String(length=64), nullable=True),
        _moment("user_token_expires_at", True),
        _moment("created_at", False),
        _moment("updated_at", False),
        _account_fk("agent_payments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_payments")),
        sa.UniqueConstraint("action_token", name=op.f("uq_agent_payments_action_token")),
        sa.UniqueConstraint("card_ref", name=op.f("uq_agent_payments_card_ref")),
        sa.UniqueConstraint(
            "account_id",
            "idempotency_key",
            name=op.f("uq_agent_payments_account_id_idempotency_key"),
        ),
    )
    with op.batch_alter_table("agent_payments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agent_payments_account_handle", ["account_id", "handle"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("agent_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_payments_account_handle")
    op.drop_table("agent_payments")
    op.drop_table("payment_wallets")
    op.drop_table("payment_handle_connections")
    op.drop_table("payment_providers")
