"""reputation audits

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:00:00.000000

One row per reputation audit (pending, then complete with its report or error),
readable for 24 hours.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import openlinq.store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reputation_audits",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", openlinq.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("generated_at", openlinq.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", openlinq.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_reputation_audits_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_reputation_audits_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reputation_audits")),
    )
    op.create_index(
        "ix_reputation_audits_line_created",
        "reputation_audits",
        ["line_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_reputation_audits_created_at", "reputation_audits", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_reputation_audits_created_at", table_name="reputation_audits")
    op.drop_index("ix_reputation_audits_line_created", table_name="reputation_audits")
    op.drop_table("reputation_audits")
