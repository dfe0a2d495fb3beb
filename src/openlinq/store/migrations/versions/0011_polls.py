"""polls: the options and votes of poll messages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:00:00.000000

A poll is a message of its chat (it has a message id and goes through the carrier like
a send); its options, in creation order, and each participant's votes are rows here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openlinq.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "poll_options",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("creator_handle", sa.String(length=320), nullable=False),
        sa.Column("created_at", openlinq.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_poll_options_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_options")),
        sa.UniqueConstraint(
            "message_id", "position", name=op.f("uq_poll_options_message_id_position")
        ),
    )
    op.create_table(
        "poll_votes",
        sa.Column("option_id", sa.String(length=36), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("voted_at", openlinq.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_poll_votes_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["option_id"], ["poll_options.id"], name=op.f("fk_poll_votes_option_id_poll_options")
        ),
        sa.PrimaryKeyConstraint("option_id", "handle", name=op.f("pk_poll_votes")),
    )
    with op.batch_alter_table("poll_votes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_poll_votes_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("poll_votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_votes_message_id"))
    op.drop_table("poll_votes")
    op.drop_table("poll_options")
