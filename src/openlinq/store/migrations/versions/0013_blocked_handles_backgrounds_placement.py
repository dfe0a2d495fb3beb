"""blocked handles, dropped inbound, chat backgrounds, sticker placement

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 03:00:00.000000

Stickers peeled before this revision keep ``placement`` NULL: they cannot be moved
(the contract answers 404 for them), while every sticker added from now on records one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import openlinq.store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "blocked_handles",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("blocked_at", openlinq.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_blocked_handles_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "handle", name=op.f("pk_blocked_handles")),
    )
    with op.batch_alter_table("blocked_handles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_blocked_handles_account_time", ["account_id", "blocked_at"], unique=False
        )
    op.create_table(
        "blocked_inbound",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("line_number", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("received_at", openlinq.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_blocked_inbound_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_blocked_inbound")),
        sa.UniqueConstraint("id", name=op.f("uq_blocked_inbound_id")),
    )
    with op.batch_alter_table("blocked_inbound", schema=None) as batch_op:
        batch_op.create_index("ix_blocked_inbound_account_seq", ["account_id", "seq"], unique=False)
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("background", JSON, nullable=True))
    with op.batch_alter_table("reactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("placement", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reactions", schema=None) as batch_op:
        batch_op.drop_column("placement")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_column("background")
    with op.batch_alter_table("blocked_inbound", schema=None) as batch_op:
        batch_op.drop_index("ix_blocked_inbound_account_seq")
    op.drop_table("blocked_inbound")
    with op.batch_alter_table("blocked_handles", schema=None) as batch_op:
        batch_op.drop_index("ix_blocked_handles_account_time")
    op.drop_table("blocked_handles")
