"""webhook attempts keep the request they sent; the account-wide delivery log index

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00.000000

The console's delivery log shows each attempt's request headers and body. They cannot
be rebuilt afterwards: the signature covers a wall-clock timestamp that is not the
attempt's (simulated) time, the payload version follows the target URL, which can change,
and a routing token can change between attempts. So each attempt records them.
Attempts logged before this revision have none (the console says so).

Attempts also get their number within the delivery: on a manual clock several attempts
share one instant, and ordering them by time (then by random id) shuffled them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "request_headers",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("request_body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_account_seq", ["account_id", "seq"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_account_seq")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_column("number")
        batch_op.drop_column("request_body")
        batch_op.drop_column("request_headers")
