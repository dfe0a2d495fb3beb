"""payment requests and per-account payment onboarding

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openlinq.store.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

MOMENT = openlinq.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payment_requests",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payer_state", sa.String(length=16), nullable=True),
        sa.Column("checkout_session", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("details", openlinq.store.types.JSONDocument(), nullable=False),
        sa.Column("expires_at", MOMENT, nullable=False),
        sa.Column("paid_at", MOMENT, nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_payment_requests_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_payment_requests")),
        sa.UniqueConstraint("id", name=op.f("uq_payment_requests_id")),
        sa.UniqueConstraint("checkout_session", name=op.f("uq_payment_requests_checkout_session")),
        sa.UniqueConstraint(
            "account_id",
            "idempotency_key",
            name=op.f("uq_payment_requests_account_id_idempotency_key"),
        ),
    )
    op.create_index(
        "ix_payment_requests_account_seq", "payment_requests", ["account_id", "seq"], unique=False
    )
    op.create_table(
        "payment_accounts",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("stripe_charges_enabled", sa.Boolean(), nullable=False),
        sa.Column("natural_onboarded", sa.Boolean(), nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_payment_accounts_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_payment_accounts")),
    )


def downgrade() -> None:
    op.drop_table("payment_accounts")
    op.drop_index("ix_payment_requests_account_seq", table_name="payment_requests")
    op.drop_table("payment_requests")
