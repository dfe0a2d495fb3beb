"""Poll options and votes (the poll itself is its definition message)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from openlinq.domain.ids import MessageId
from openlinq.domain.models import Message, Poll, PollOption, PollVote
from openlinq.store.engine import DbConnection
from openlinq.store.rows import plain_rows
from openlinq.store.tables import messages, poll_options, poll_votes

_OPTIONS = select(poll_options).order_by(poll_options.c.position)
_VOTES = select(poll_votes).order_by(poll_votes.c.voted_at, poll_votes.c.handle)


class PollRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def of(self, message: Message) -> Poll:
        """The poll ``message`` defines, with its options and votes."""
        return Poll(
            message, tuple(await self.options(message.id)), tuple(await self.votes(message.id))
        )

    async def add_options(self, options: Sequence[PollOption]) -> None:
        if not options:
            return
        await self.conn.execute(
            poll_options.insert(),
            [
                {
                    "id": o.id,
                    "message_id": o.message_id,
                    "position": o.position,
                    "text": o.text,
                    "creator_handle": o.creator_handle,
                    "created_at": o.created_at,
                }
                for o in options
            ],
        )

    async def options(self, message_id: MessageId) -> list[PollOption]:
        rows = plain_rows(
            await self.conn.execute(_OPTIONS.where(poll_options.c.message_id == message_id))
        )
        return [
            PollOption(
                id=r.id,
                message_id=MessageId(r.message_id),
                position=r.position,
                text=r.text,
                creator_handle=r.creator_handle,
                created_at=r.created_at,
            )
            for r in rows
        ]

    async def votes(self, message_id: MessageId) -> list[PollVote]:
        rows = plain_rows(
            await self.conn.execute(_VOTES.where(poll_votes.c.message_id == message_id))
        )
        return [PollVote(r.option_id, r.handle, r.voted_at) for r in rows]

    async def add_vote(self, message_id: MessageId, vote: PollVote) -> None:
        await self.conn.execute(
            poll_votes.insert().values(
                option_id=vote.option_id,
                handle=vote.handle,
                message_id=message_id,
                voted_at=vote.voted_at,
            )
        )

    async def remove_vote(self, option_id: str, handle: str) -> None:
        await self.conn.execute(
            poll_votes.delete().where(
                (poll_votes.c.option_id == option_id) & (poll_votes.c.handle == handle)
            )
        )

    async def touch(self, message_id: MessageId, now: datetime) -> None:
        """A vote or a new option changes the poll: its message's ``updated_at`` moves."""
        await self.conn.execute(
            update(messages).where(messages.c.id == message_id).values(updated_at=now)
        )
