"""api key prefixes: only generated keys keep one; existing ones are scrubbed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:40:00.000000

A key's first 8 characters were stored for every key. For a short chosen key
(a dev key) that is most or all of the key, kept in clear. Which stored keys
were generated cannot be told from the table, so every existing prefix goes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("prefix", existing_type=sa.String(length=16), nullable=True)
    op.execute(sa.text("UPDATE api_keys SET prefix = NULL"))


def downgrade() -> None:
    op.execute(sa.text("UPDATE api_keys SET prefix = '' WHERE prefix IS NULL"))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("prefix", existing_type=sa.String(length=16), nullable=False)
