"""carrier refs: a real carrier's ids for our messages and chats, indexed

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 05:45:00.000000

BlueBubbles kept each message's GUID and its chat's in ``messages.extra``
(``carrier_ref``, ``carrier_chat``); they move to the new table (the line is the
message's chat's), and back on a downgrade. SMPP kept its ids in memory only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import openlinq.store.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_messages = sa.table(
    "messages",
    sa.column("id", sa.String(36)),
    sa.column("chat_id", sa.String(36)),
    sa.column("created_at", openlinq.store.types.UTCDateTime()),
    sa.column("extra", openlinq.store.types.JSONDocument()),
)
_chats = sa.table("chats", sa.column("id", sa.String(36)), sa.column("line_id", sa.String(36)))
_refs = sa.table(
    "carrier_refs",
    sa.column("line_id", sa.String(36)),
    sa.column("kind", sa.String(8)),
    sa.column("external_id", sa.String(255)),
    sa.column("message_id", sa.String(36)),
    sa.column("chat_id", sa.String(36)),
    sa.column("part", sa.Integer()),
    sa.column("parts", sa.Integer()),
    sa.column("delivered", sa.Boolean()),
    sa.column("created_at", openlinq.store.types.UTCDateTime()),
)
_line_carriers = sa.table(
    "line_carriers", sa.column("line_id", sa.String(36)), sa.column("carrier", sa.String(32))
)
_KEYS = ("carrier_ref", "carrier_chat")


def upgrade() -> None:
    op.create_table(
        "carrier_refs",
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("chat_id", sa.String(length=36), nullable=True),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("created_at", openlinq.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_carrier_refs_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_carrier_refs_line_id_lines")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_carrier_refs_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("line_id", "kind", "external_id", name=op.f("pk_carrier_refs")),
    )
    with op.batch_alter_table("carrier_refs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_carrier_refs_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_carrier_refs_message_id"), ["message_id"], unique=False
        )
    _move_out_of_extra()


def _move_out_of_extra() -> None:
    """Each BlueBubbles ref kept in ``messages.extra`` becomes a row (the first message
    of a chat GUID wins, as the old lookups' ``LIMIT 1`` did), and leaves ``extra``."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_messages.c.id, _messages.c.created_at, _messages.c.extra, _chats.c.line_id)
        .join(_chats, _chats.c.id == _messages.c.chat_id)
        .add_columns(_messages.c.chat_id)
        .where(sa.cast(_messages.c.extra, sa.Text).like('%"carrier_ref"%'))
        .order_by(_messages.c.created_at)
    ).all()
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        extra: dict[str, Any] = row.extra if isinstance(row.extra, dict) else {}
        wanted = (
            ("message", extra.get("carrier_ref"), row.id, None),
            ("chat", extra.get("carrier_chat"), None, row.chat_id),
        )
        for kind, external_id, message_id, chat_id in wanted:
            key = (row.line_id, kind, str(external_id))
            if not isinstance(external_id, str) or not external_id or key in seen:
                continue
            seen.add(key)
            bind.execute(
                _refs.insert().values(
                    line_id=row.line_id,
                    kind=kind,
                    external_id=external_id,
                    message_id=message_id,
                    chat_id=chat_id,
                    part=0,
                    parts=1,
                    delivered=False,
                    created_at=row.created_at or datetime.now(UTC),
                )
            )
        kept = {k: v for k, v in extra.items() if k not in _KEYS}
        bind.execute(_messages.update().where(_messages.c.id == row.id).values(extra=kept))


def downgrade() -> None:
    """The BlueBubbles lines' refs go back into ``messages.extra``; SMS segments awaiting
    a receipt are forgotten (their receipts are then dropped, as before this revision)."""
    bind = op.get_bind()
    chat_refs = dict(
        bind.execute(
            sa.select(_refs.c.chat_id, _refs.c.external_id).where(_refs.c.kind == "chat")
        ).all()
    )
    rows = bind.execute(
        sa.select(_refs.c.message_id, _refs.c.external_id, _messages.c.chat_id, _messages.c.extra)
        .join(_messages, _messages.c.id == _refs.c.message_id)
        .join(_line_carriers, _line_carriers.c.line_id == _refs.c.line_id)
        .where(_refs.c.kind == "message", _line_carriers.c.carrier == "bluebubbles")
    ).all()
    for row in rows:
        extra = dict(row.extra) if isinstance(row.extra, dict) else {}
        extra["carrier_ref"] = row.external_id
        if row.chat_id in chat_refs:
            extra["carrier_chat"] = chat_refs[row.chat_id]
        bind.execute(_messages.update().where(_messages.c.id == row.message_id).values(extra=extra))
    with op.batch_alter_table("carrier_refs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_carrier_refs_message_id"))
        batch_op.drop_index(batch_op.f("ix_carrier_refs_chat_id"))
    op.drop_table("carrier_refs")
