"""an index of the webhook deliveries still on their way

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:30:00.000000

/metrics reports the outbox lag: the age of the oldest delivery not yet delivered or
given up. A partial index holding only those deliveries answers it with one lookup,
however long the delivery log grows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'retrying')")


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_open",
        "webhook_deliveries",
        ["created_at"],
        unique=False,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_open", table_name="webhook_deliveries")
