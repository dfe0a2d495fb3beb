from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, Update, bindparam, cast, delete, func, or_, select, update

from openlinq.domain.ids import AccountId, ChatId, MessageId
from openlinq.domain.models import (
    DeliveryStatus,
    Direction,
    Edit,
    Effect,
    Message,
    Reaction,
    ReplyTo,
    Service,
)
from openlinq.store.engine import DbConnection
from openlinq.store.prepared import prepare
from openlinq.store.rows import member_of, plain_rows
from openlinq.store.tables import (
    carrier_refs,
    message_edits,
    messages,
    poll_options,
    reactions,
)

log = logging.getLogger(__name__)


@functools.cache
def _status_update(only_from: tuple[str, ...], columns: tuple[str, ...]) -> Update:
    """The guarded status update for one transition, built once per kind of transition
    (a handful: sent, delivered, read, failed), so each receipt reuses its compiled form.
    It returns the updated row, which saves reading the message again for its event.
    Every receipt runs one: through the driver on SQLite (store/prepared.py)."""
    statement = (
        update(messages)
        .where(
            messages.c.id == bindparam("target_id"),
            messages.c.delivery_status.in_(only_from),
        )
        .values(
            delivery_status=bindparam("new_status"),
            updated_at=bindparam("now"),
            **{column: bindparam(f"new_{column}") for column in columns},
        )
        .returning(*messages.c)
    )
    prepare(statement)
    return statement


def _effect(row: Any) -> Effect | None:
    try:
        return Effect(**row.effect) if row.effect else None
    except TypeError:
        log.warning("message %s: stored effect %r is malformed; shown as none", row.id, row.effect)
        return None


def _parts(row: Any) -> tuple[Any, ...]:
    # A value that is not a list is kept as one part the views show empty (and log).
    return tuple(row.parts) if isinstance(row.parts, list) else (row.parts,)


_DIRECTION = member_of(Direction)
_SERVICE = member_of(Service)
_STATUS = member_of(DeliveryStatus)


def _message(row: Any) -> Message:
    effect = _effect(row)
    reply_to = (
        ReplyTo(MessageId(row.reply_to_id), row.reply_to_part or 0) if row.reply_to_id else None
    )
    return Message(
        id=MessageId(row.id),
        account_id=AccountId(row.account_id),
        chat_id=ChatId(row.chat_id),
        direction=_DIRECTION(row.direction),
        sender_handle=row.sender_handle,
        parts=_parts(row),
        effect=effect,
        reply_to=reply_to,
        preferred_service=_SERVICE(row.preferred_service) if row.preferred_service else None,
        service=_SERVICE(row.service),
        delivery_status=_STATUS(row.delivery_status),
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        updated_at=row.updated_at,
        sent_at=row.sent_at,
        delivered_at=row.delivered_at,
        read_at=row.read_at,
        failed_at=row.failed_at,
        error_code=row.error_code,
        error_reason=row.error_reason,
        seq=row.seq,
        thread_root_id=MessageId(row.thread_root_id) if row.thread_root_id else None,
        request_hash=row.request_hash,
        deleted=row.deleted_at is not None,
        send_meta=row.extra or {},
        expires_at=row.expires_at,
    )


_VISIBLE = messages.c.deleted_at.is_(None)


def _like_escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Statements on the send and delivery paths, built once (see repos/chats.py).
_INSERT = messages.insert()
# The API's pages (newest first, deleted messages hidden): read on every list request.
_NEWEST = select(messages).where(messages.c.chat_id == bindparam("chat_id"), _VISIBLE)
_NEWEST_PAGE = _NEWEST.order_by(messages.c.seq.desc()).limit(bindparam("limit"))
_NEWEST_PAGE_AFTER = (
    _NEWEST.where(messages.c.seq < bindparam("after_seq"))
    .order_by(messages.c.seq.desc())
    .limit(bindparam("limit"))
)
_REACTIONS_OF = (
    select(reactions)
    .where(reactions.c.message_id.in_(bindparam("message_ids", expanding=True)))
    .order_by(reactions.c.created_at)
)
_EDITS_OF = (
    select(message_edits)
    .where(message_edits.c.message_id.in_(bindparam("message_ids", expanding=True)))
    .order_by(message_edits.c.edited_at, message_edits.c.id)
)
_BY_ID = select(messages).where(
    messages.c.account_id == bindparam("account_id"),
    messages.c.id == bindparam("message_id"),
    _VISIBLE,
)
_BY_ID_ANY = select(messages).where(messages.c.id == bindparam("message_id"))
_RECENT_OUTCOMES = (
    select(messages.c.direction, messages.c.delivery_status)
    .where(messages.c.chat_id == bindparam("chat_id"))
    .order_by(messages.c.seq.desc())
    .limit(bindparam("limit"))
)


# Run by every send, read or delivery: through the driver on SQLite (store/prepared.py).
prepare(
    _INSERT,
    _NEWEST_PAGE,
    _NEWEST_PAGE_AFTER,
    _BY_ID,
    _BY_ID_ANY,
    _RECENT_OUTCOMES,
    _REACTIONS_OF,
    _EDITS_OF,
)


class MessageRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def add(self, message: Message) -> None:
        await self.conn.execute(
            _INSERT,
            {
                "id": message.id,
                "account_id": message.account_id,
                "chat_id": message.chat_id,
                "direction": message.direction.value,
                "sender_handle": message.sender_handle,
                "parts": list(message.parts),
                "effect": {"name": message.effect.name, "type": message.effect.type}
                if message.effect
                else None,
                "reply_to_id": message.reply_to.message_id if message.reply_to else None,
                "reply_to_part": message.reply_to.part_index if message.reply_to else None,
                "thread_root_id": message.thread_root_id,
                "preferred_service": message.preferred_service.value
                if message.preferred_service
                else None,
                "service": message.service.value,
                "delivery_status": message.delivery_status.value,
                "idempotency_key": message.idempotency_key,
                "request_hash": message.request_hash,
                "created_at": message.created_at,
                "updated_at": message.updated_at,
                "sent_at": message.sent_at,
                "expires_at": message.expires_at,
                "extra": message.send_meta,
            },
        )

    async def _fetch(self, query: Any, params: dict[str, Any] | None = None) -> list[Message]:
        return [_message(r) for r in plain_rows(await self.conn.execute(query, params))]

    async def get(self, account_id: AccountId, message_id: MessageId) -> Message | None:
        found = await self._fetch(_BY_ID, {"account_id": account_id, "message_id": message_id})
        return found[0] if found else None

    async def get_any(self, message_id: MessageId) -> Message | None:
        found = await self._fetch(_BY_ID_ANY, {"message_id": message_id})
        return found[0] if found else None

    async def by_idempotency_key(self, account_id: AccountId, key: str) -> Message | None:
        """Includes deleted messages: a deleted message's key stays burned."""
        found = await self._fetch(
            select(messages).where(
                messages.c.account_id == account_id, messages.c.idempotency_key == key
            )
        )
        return found[0] if found else None

    async def page(
        self,
        chat_id: ChatId,
        *,
        after_seq: int | None,
        limit: int,
        ascending: bool = False,
        include_deleted: bool = False,
        from_seq: int | None = None,
    ) -> list[Message]:
        """A page of the chat's messages; the console also sees deleted ones
        (``include_deleted``) and asks for everything from ``from_seq`` on."""
        if not (ascending or include_deleted or from_seq is not None):
            params = {"chat_id": chat_id, "limit": limit, "after_seq": after_seq}
            return await self._fetch(
                _NEWEST_PAGE if after_seq is None else _NEWEST_PAGE_AFTER, params
            )
        query = select(messages).where(messages.c.chat_id == chat_id)
        if not include_deleted:
            query = query.where(_VISIBLE)
        if from_seq is not None:
            query = query.where(messages.c.seq >= from_seq)
        if after_seq is not None:
            query = query.where(
                messages.c.seq > after_seq if ascending else messages.c.seq < after_seq
            )
        order = messages.c.seq.asc() if ascending else messages.c.seq.desc()
        return await self._fetch(query.order_by(order).limit(limit))

    async def thread(
        self, root_id: MessageId, *, after_seq: int | None, limit: int, ascending: bool
    ) -> list[Message]:
        query = select(messages).where(
            (messages.c.id == root_id) | (messages.c.thread_root_id == root_id), _VISIBLE
        )
        if after_seq is not None:
            query = query.where(
                messages.c.seq > after_seq if ascending else messages.c.seq < after_seq
            )
        order = messages.c.seq.asc() if ascending else messages.c.seq.desc()
        return await self._fetch(query.order_by(order).limit(limit))

    async def set_status(
        self,
        message_id: MessageId,
        status: DeliveryStatus,
        now: datetime,
        *,
        only_from: Sequence[DeliveryStatus],
        **timestamps: Any,
    ) -> Message | None:
        """Move a message forward and return it; a no-op (None) unless it is in one of
        ``only_from``.

        Transitions are guarded in SQL so that repeated or late receipts (a job
        run twice, a carrier callback after a failure) never move a status back.
        """
        statement = _status_update(tuple(s.value for s in only_from), tuple(sorted(timestamps)))
        params = {f"new_{column}": value for column, value in timestamps.items()}
        moved = await self._fetch(
            statement, {"target_id": message_id, "new_status": status.value, "now": now, **params}
        )
        return moved[0] if moved else None

    async def unread_inbound(self, chat_id: ChatId) -> list[Message]:
        return await self._fetch(
            select(messages).where(
                messages.c.chat_id == chat_id,
                messages.c.direction == Direction.INBOUND.value,
                messages.c.read_at.is_(None),
                _VISIBLE,
            )
        )

    async def mark_read(self, message_ids: Sequence[MessageId], now: datetime) -> None:
        if message_ids:
            await self.conn.execute(
                update(messages)
                .where(messages.c.id.in_(list(message_ids)))
                .values(read_at=now, updated_at=now)
            )

    async def outbound_awaiting_read(self, chat_id: ChatId) -> list[Message]:
        return await self._fetch(
            select(messages).where(
                messages.c.chat_id == chat_id,
                messages.c.direction == Direction.OUTBOUND.value,
                messages.c.delivery_status == DeliveryStatus.DELIVERED.value,
            )
        )

    async def to_handle(
        self, account_id: AccountId, chat_ids: Sequence[ChatId], last: int | None = None
    ) -> list[Message]:
        """Every visible message in the given chats, oldest first (a device's screen);
        with ``last``, only that many of the newest."""
        if not chat_ids:
            return []
        query = select(messages).where(
            messages.c.account_id == account_id, messages.c.chat_id.in_(list(chat_ids))
        )
        if last is None:
            return await self._fetch(query.order_by(messages.c.seq.asc()))
        newest = await self._fetch(query.order_by(messages.c.seq.desc()).limit(last))
        return newest[::-1]

    async def by_ids(self, account_id: AccountId, ids: Sequence[MessageId]) -> list[Message]:
        """The account's messages with these ids, deleted ones included."""
        if not ids:
            return []
        return await self._fetch(
            select(messages).where(
                messages.c.account_id == account_id, messages.c.id.in_(list(ids))
            )
        )

    async def latest_in_chats(self, chat_ids: Sequence[ChatId]) -> dict[ChatId, Message]:
        """Each chat's newest visible message (one statement for a page of chats)."""
        if not chat_ids:
            return {}
        newest = (
            select(func.max(messages.c.seq))
            .where(messages.c.chat_id.in_(list(chat_ids)), _VISIBLE)
            .group_by(messages.c.chat_id)
        )
        found = await self._fetch(select(messages).where(messages.c.seq.in_(newest)))
        return {m.chat_id: m for m in found}

    async def unread_counts(self, chat_ids: Sequence[ChatId]) -> dict[ChatId, int]:
        """Inbound messages nobody marked read, per chat."""
        if not chat_ids:
            return {}
        rows = await self.conn.execute(
            select(messages.c.chat_id, func.count())
            .where(
                messages.c.chat_id.in_(list(chat_ids)),
                messages.c.direction == Direction.INBOUND.value,
                messages.c.read_at.is_(None),
                _VISIBLE,
            )
            .group_by(messages.c.chat_id)
        )
        return {ChatId(chat_id): int(count) for chat_id, count in rows}

    async def containing(
        self, account_id: AccountId, needles: Sequence[str], limit: int
    ) -> list[Message]:
        """The account's newest visible messages whose stored parts contain one of
        ``needles`` (lower-cased; matched against the lower-cased JSON of the parts), at
        most ``limit``: a coarse, bounded pre-filter the caller refines."""
        document = func.lower(cast(messages.c.parts, Text))
        query = (
            select(messages)
            .where(
                messages.c.account_id == account_id,
                _VISIBLE,
                or_(*(document.like(f"%{_like_escaped(n)}%", escape="\\") for n in needles)),
            )
            .order_by(messages.c.seq.desc())
            .limit(limit)
        )
        return await self._fetch(query)

    async def add_reaction(self, reaction: Reaction) -> None:
        await self.conn.execute(
            reactions.insert().values(
                id=reaction.id,
                message_id=reaction.message_id,
                part_index=reaction.part_index,
                handle=reaction.handle,
                is_me=reaction.is_me,
                type=reaction.type,
                custom_emoji=reaction.custom_emoji,
                sticker=reaction.sticker,
                placement=reaction.placement,
                created_at=reaction.created_at,
            )
        )

    async def reaction(self, message_id: MessageId, reaction_id: str) -> Reaction | None:
        """One reaction of a message."""
        found = (await self.reactions_for([message_id])).get(message_id, [])
        return next((r for r in found if r.id == reaction_id), None)

    async def set_placement(self, reaction_id: str, placement: dict[str, float]) -> None:
        await self.conn.execute(
            update(reactions).where(reactions.c.id == reaction_id).values(placement=placement)
        )

    async def reactions_for(
        self, message_ids: Sequence[MessageId]
    ) -> dict[MessageId, list[Reaction]]:
        found: dict[MessageId, list[Reaction]] = defaultdict(list)
        if not message_ids:
            return found
        rows = plain_rows(
            await self.conn.execute(_REACTIONS_OF, {"message_ids": list(message_ids)})
        )
        for r in rows:
            found[MessageId(r.message_id)].append(
                Reaction(
                    id=r.id,
                    message_id=MessageId(r.message_id),
                    part_index=r.part_index,
                    handle=r.handle,
                    is_me=r.is_me,
                    type=r.type,
                    custom_emoji=r.custom_emoji,
                    created_at=r.created_at,
                    sticker=r.sticker,
                    placement=r.placement,
                )
            )
        return found

    async def edits(self, message_ids: Sequence[MessageId]) -> dict[MessageId, list[Edit]]:
        found: dict[MessageId, list[Edit]] = defaultdict(list)
        if not message_ids:
            return found
        rows = await self.conn.execute(_EDITS_OF, {"message_ids": list(message_ids)})
        for r in rows:
            found[MessageId(r.message_id)].append(
                Edit(
                    r.id,
                    MessageId(r.message_id),
                    r.part_index,
                    r.previous_text,
                    r.text,
                    r.edited_at,
                )
            )
        return found

    async def record_edit(self, edit: Edit, parts: Sequence[dict[str, Any]]) -> None:
        await self.conn.execute(
            message_edits.insert().values(
                id=edit.id,
                message_id=edit.message_id,
                part_index=edit.part_index,
                previous_text=edit.previous_text,
                text=edit.text,
                edited_at=edit.edited_at,
            )
        )
        await self.conn.execute(
            update(messages)
            .where(messages.c.id == edit.message_id)
            .values(parts=list(parts), updated_at=edit.edited_at)
        )

    async def mark_deleted(self, message_id: MessageId, now: datetime) -> None:
        await self.conn.execute(
            update(messages).where(messages.c.id == message_id).values(deleted_at=now)
        )

    async def remove_reactions(
        self, message_id: MessageId, part_index: int, handle: str, types: Sequence[str]
    ) -> list[Reaction]:
        """Delete ``handle``'s reactions of ``types`` on one part; returns what was removed."""
        query = reactions.c.message_id == message_id
        condition = (
            query
            & (reactions.c.part_index == part_index)
            & (reactions.c.handle == handle)
            & reactions.c.type.in_(list(types))
        )
        found = (await self.reactions_for([message_id])).get(message_id, [])
        removed = [
            r
            for r in found
            if r.part_index == part_index and r.handle == handle and r.type in types
        ]
        if removed:
            await self.conn.execute(reactions.delete().where(condition))
        return removed

    async def recent_outcomes(
        self, chat_id: ChatId, limit: int
    ) -> list[tuple[Direction, DeliveryStatus]]:
        """Direction and status of the chat's latest messages, newest first."""
        rows = await self.conn.execute(_RECENT_OUTCOMES, {"chat_id": chat_id, "limit": limit})
        return [(Direction(r.direction), DeliveryStatus(r.delivery_status)) for r in rows]

    async def purge_expired(self, now: datetime, batch: int) -> tuple[int, list[str]]:
        """Scrub up to ``batch`` expired messages: how many, and the attachments they carried."""
        rows = (await self.conn.execute(_EXPIRED, {"now": now, "batch": batch})).all()
        if not rows:
            return 0, []
        await self.conn.execute(_SCRUB, {"ids": [r.id for r in rows], "now": now})
        await self.conn.execute(_SCRUB_POLLS, {"ids": [r.id for r in rows]})
        await self.conn.execute(_FORGET_REFS, {"ids": [r.id for r in rows]})
        media = [p["id"] for r in rows for p in r.parts if p.get("type") == "media" and "id" in p]
        return len(rows), media


# The retention sweep's statements, built once: on SQLite they run on the event loop.
_EXPIRED = (
    select(messages.c.id, messages.c.parts)
    .where(messages.c.expires_at <= bindparam("now"), _VISIBLE)
    .order_by(messages.c.expires_at)
    .limit(bindparam("batch"))
)
_SCRUB = (
    update(messages)
    .where(messages.c.id.in_(bindparam("ids", expanding=True)))
    # Clearing expires_at takes purged rows out of the index the sweep scans.
    .values(parts=[], deleted_at=bindparam("now"), updated_at=bindparam("now"), expires_at=None)
)
# A poll's option texts are its content: they go with the rest (the votes are metadata).
_SCRUB_POLLS = (
    update(poll_options)
    .where(poll_options.c.message_id.in_(bindparam("ids", expanding=True)))
    .values(text="")
)
# What a carrier called a purged message goes too: its later callbacks find nothing.
_FORGET_REFS = delete(carrier_refs).where(
    carrier_refs.c.message_id.in_(bindparam("ids", expanding=True))
)
