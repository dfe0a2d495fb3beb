from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update

from openlinq.domain.ids import AccountId, ChatId, HandleId, LineId
from openlinq.domain.models import Chat, ChatHandle, ChatHealth, HandleStatus, Line, Service
from openlinq.store.engine import DbConnection, affected_rows
from openlinq.store.prepared import prepare
from openlinq.store.repos.lines import line_from_row
from openlinq.store.rows import member_of
from openlinq.store.tables import chat_handles, chats, lines

ChatCursor = tuple[datetime, int]

# Statements on the send and delivery paths, built once: SQLAlchemy then finds their
# compiled form by identity instead of building and hashing a new statement per call.
_BY_ID = select(chats).where(
    chats.c.account_id == bindparam("account_id"), chats.c.id == bindparam("chat_id")
)
_BY_ID_ANY = select(chats).where(chats.c.id == bindparam("chat_id"))
_HANDLES_OF = (
    select(chat_handles)
    .where(chat_handles.c.chat_id.in_(bindparam("chat_ids", expanding=True)))
    .order_by(chat_handles.c.chat_id, chat_handles.c.position)
)
# A chat with its handles and its line in one statement: one row per handle, each carrying
# the chat's columns, then the line's and the handle's under a prefix (line__, handle__).
_WITH_LINE = (
    select(
        chats,
        *(c.label(f"line__{c.name}") for c in lines.c),
        *(c.label(f"handle__{c.name}") for c in chat_handles.c),
    )
    .join(lines, lines.c.id == chats.c.line_id)
    .join(chat_handles, chat_handles.c.chat_id == chats.c.id)
    .order_by(chat_handles.c.position)
)
_WITH_LINE_BY_ID = _WITH_LINE.where(
    chats.c.account_id == bindparam("account_id"), chats.c.id == bindparam("chat_id")
)
_WITH_LINE_BY_ID_ANY = _WITH_LINE.where(chats.c.id == bindparam("chat_id"))
_ACTIVITY = (
    update(chats)
    .where(chats.c.id == bindparam("target_id"))
    .values(last_activity_at=bindparam("now"), updated_at=bindparam("now"))
)
_ACTIVITY_ON_SERVICE = _ACTIVITY.values(service=bindparam("new_service"))
_HEALTH = (
    update(chats)
    .where(chats.c.id == bindparam("target_id"))
    .values(health=bindparam("new_health"), health_updated_at=bindparam("now"))
)

# Run by every send, read or delivery: through the driver on SQLite (store/prepared.py).
prepare(
    _HANDLES_OF,
    _BY_ID,
    _BY_ID_ANY,
    _WITH_LINE_BY_ID,
    _WITH_LINE_BY_ID_ANY,
    _ACTIVITY,
    _ACTIVITY_ON_SERVICE,
    _HEALTH,
    _HANDLES_OF,
)


_SERVICE = member_of(Service)
_HANDLE_STATUS = member_of(HandleStatus)
_HEALTH_OF = member_of(ChatHealth)


def _handle(row: Any) -> ChatHandle:
    return ChatHandle(
        id=HandleId(row.id),
        chat_id=ChatId(row.chat_id),
        handle=row.handle,
        service=_SERVICE(row.service),
        is_me=row.is_me,
        status=_HANDLE_STATUS(row.status),
        joined_at=row.joined_at,
        left_at=row.left_at,
    )


def _chat(row: Any, handles: Sequence[ChatHandle]) -> Chat:
    return Chat(
        id=ChatId(row.id),
        account_id=AccountId(row.account_id),
        line_id=LineId(row.line_id),
        is_group=row.is_group,
        service=_SERVICE(row.service),
        display_name=row.display_name,
        group_icon=row.group_icon,
        health=_HEALTH_OF(row.health),
        health_updated_at=row.health_updated_at,
        recipient_key=row.recipient_key,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_activity_at=row.last_activity_at,
        handles=tuple(handles),
    )


# _WITH_LINE's row: the chat's columns, then the line's, then the handle's. Each part is
# read as a named tuple of its table's column names (store/rows.py says why).
_CHAT_ROW = namedtuple("_CHAT_ROW", [c.name for c in chats.c])  # type: ignore[misc]
_LINE_ROW = namedtuple("_LINE_ROW", [c.name for c in lines.c])  # type: ignore[misc]
_HANDLE_ROW = namedtuple("_HANDLE_ROW", [c.name for c in chat_handles.c])  # type: ignore[misc]
_LINE_AT = len(chats.c)
_HANDLE_AT = _LINE_AT + len(lines.c)


def _chat_with_line(rows: Sequence[Any]) -> tuple[Chat, Line] | None:
    if not rows:
        return None
    handles = [_handle(_HANDLE_ROW._make(r[_HANDLE_AT:])) for r in rows]
    first = rows[0]
    chat = _chat(_CHAT_ROW._make(first[:_LINE_AT]), handles)
    return chat, line_from_row(_LINE_ROW._make(first[_LINE_AT:_HANDLE_AT]))


class ChatRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def add(self, chat: Chat) -> None:
        await self.conn.execute(
            chats.insert().values(
                id=chat.id,
                account_id=chat.account_id,
                line_id=chat.line_id,
                is_group=chat.is_group,
                service=chat.service.value,
                display_name=chat.display_name,
                group_icon=chat.group_icon,
                health=chat.health.value,
                health_updated_at=chat.health_updated_at,
                recipient_key=chat.recipient_key,
                created_at=chat.created_at,
                updated_at=chat.updated_at,
                last_activity_at=chat.last_activity_at,
            )
        )
        await self.conn.execute(
            chat_handles.insert(),
            [
                {
                    "id": h.id,
                    "chat_id": h.chat_id,
                    "handle": h.handle,
                    "service": h.service.value,
                    "is_me": h.is_me,
                    "status": h.status.value,
                    "position": position,
                    "joined_at": h.joined_at,
                    "left_at": h.left_at,
                }
                for position, h in enumerate(chat.handles)
            ],
        )

    async def _with_handles(self, rows: Sequence[Any]) -> list[Chat]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        handle_rows = await self.conn.execute(_HANDLES_OF, {"chat_ids": ids})
        by_chat: dict[str, list[ChatHandle]] = defaultdict(list)
        for h in handle_rows:
            by_chat[h.chat_id].append(_handle(h))
        return [_chat(r, by_chat[r.id]) for r in rows]

    async def get(self, account_id: AccountId, chat_id: ChatId) -> Chat | None:
        rows = (
            await self.conn.execute(_BY_ID, {"account_id": account_id, "chat_id": chat_id})
        ).all()
        found = await self._with_handles(rows)
        return found[0] if found else None

    async def with_line(self, account_id: AccountId, chat_id: ChatId) -> tuple[Chat, Line] | None:
        """The account's chat with its line, in one statement."""
        rows = await self.conn.execute(
            _WITH_LINE_BY_ID, {"account_id": account_id, "chat_id": chat_id}
        )
        return _chat_with_line(rows.all())

    async def with_line_any(self, chat_id: ChatId) -> tuple[Chat, Line] | None:
        """Internal lookup of a chat and its line, for work that already holds a trusted id."""
        rows = await self.conn.execute(_WITH_LINE_BY_ID_ANY, {"chat_id": chat_id})
        return _chat_with_line(rows.all())

    async def get_any(self, chat_id: ChatId) -> Chat | None:
        """Internal lookup for background work that already holds a trusted id."""
        rows = (await self.conn.execute(_BY_ID_ANY, {"chat_id": chat_id})).all()
        found = await self._with_handles(rows)
        return found[0] if found else None

    async def page(
        self,
        account_id: AccountId,
        *,
        line_id: LineId | None,
        participant: str | None,
        after: ChatCursor | None,
        limit: int,
        only: Sequence[ChatId] | None = None,
    ) -> list[tuple[Chat, ChatCursor]]:
        """Chats by most recent activity first, keyset-paginated on (activity, seq);
        ``only`` narrows them to a given set (the console's text search)."""
        query = select(chats).where(chats.c.account_id == account_id)
        if only is not None:
            query = query.where(chats.c.id.in_(list(only)))
        if line_id is not None:
            query = query.where(chats.c.line_id == line_id)
        if participant is not None:
            members = select(chat_handles.c.chat_id).where(
                chat_handles.c.handle == participant, chat_handles.c.is_me.is_(False)
            )
            query = query.where(chats.c.id.in_(members))
        if after is not None:
            at, seq = after
            query = query.where(
                or_(
                    chats.c.last_activity_at < at,
                    and_(chats.c.last_activity_at == at, chats.c.seq < seq),
                )
            )
        query = query.order_by(chats.c.last_activity_at.desc(), chats.c.seq.desc()).limit(limit)
        rows = (await self.conn.execute(query)).all()
        found = await self._with_handles(rows)
        return [
            (chat, (row.last_activity_at, row.seq)) for chat, row in zip(found, rows, strict=True)
        ]

    async def reusable(
        self, account_id: AccountId, key: str, line_id: LineId | None = None
    ) -> list[tuple[Chat, bool]]:
        """Chats with exactly these recipients that a new send may go into.

        Named groups and chats the line has left are never reused. Returns each
        chat with whether its line can currently send, most recently active first.
        """
        query = (
            select(chats, lines.c.status.label("line_status"))
            .join(lines, lines.c.id == chats.c.line_id)
            .where(
                chats.c.account_id == account_id,
                chats.c.recipient_key == key,
                chats.c.left_at.is_(None),
                or_(chats.c.is_group.is_(False), chats.c.display_name.is_(None)),
            )
            .order_by(chats.c.last_activity_at.desc(), chats.c.seq.desc())
        )
        if line_id is not None:
            query = query.where(chats.c.line_id == line_id)
        rows = (await self.conn.execute(query)).all()
        found = await self._with_handles(rows)
        return [(c, r.line_status == "ACTIVE") for c, r in zip(found, rows, strict=True)]

    async def direct_chat(self, account_id: AccountId, line_id: LineId, handle: str) -> Chat | None:
        found = await self.reusable(account_id, handle, line_id)
        return found[0][0] if found else None

    async def record_activity(
        self, chat_id: ChatId, service: Service | None, now: datetime
    ) -> None:
        if service is None:
            await self.conn.execute(_ACTIVITY, {"target_id": chat_id, "now": now})
            return
        await self.conn.execute(
            _ACTIVITY_ON_SERVICE, {"target_id": chat_id, "now": now, "new_service": service.value}
        )

    async def update_group(
        self,
        chat_id: ChatId,
        *,
        now: datetime,
        display_name: str | None = None,
        group_icon: str | None = None,
        clear_icon: bool = False,
    ) -> None:
        values: dict[str, Any] = {"updated_at": now}
        if display_name is not None:
            values["display_name"] = display_name
        if group_icon is not None or clear_icon:
            values["group_icon"] = group_icon
        await self.conn.execute(update(chats).where(chats.c.id == chat_id).values(**values))

    async def background(self, chat_id: ChatId) -> dict[str, Any] | None:
        """The chat's applied background (None: the default)."""
        row = (
            await self.conn.execute(select(chats.c.background).where(chats.c.id == chat_id))
        ).first()
        return dict(row.background) if row and row.background else None

    async def set_background(
        self, chat_id: ChatId, background: dict[str, Any] | None, now: datetime
    ) -> None:
        await self.conn.execute(
            update(chats).where(chats.c.id == chat_id).values(background=background, updated_at=now)
        )

    async def ids_with_participant(self, account_id: AccountId, handle: str) -> list[ChatId]:
        rows = await self.conn.execute(
            select(chats.c.id)
            .join(chat_handles, chat_handles.c.chat_id == chats.c.id)
            .where(
                chats.c.account_id == account_id,
                chat_handles.c.handle == handle,
                chat_handles.c.is_me.is_(False),
            )
        )
        return [ChatId(r.id) for r in rows]

    async def add_member(self, member: ChatHandle) -> None:
        """Add a participant, or bring back one who left or was removed."""
        result = await self.conn.execute(
            update(chat_handles)
            .where(chat_handles.c.chat_id == member.chat_id, chat_handles.c.handle == member.handle)
            .values(
                status=member.status.value,
                service=member.service.value,
                joined_at=member.joined_at,
                left_at=None,
            )
        )
        if affected_rows(result):
            return
        count = await self.conn.execute(
            select(chat_handles.c.id).where(chat_handles.c.chat_id == member.chat_id)
        )
        await self.conn.execute(
            chat_handles.insert().values(
                id=member.id,
                chat_id=member.chat_id,
                handle=member.handle,
                service=member.service.value,
                is_me=member.is_me,
                status=member.status.value,
                position=len(count.all()),
                joined_at=member.joined_at,
                left_at=None,
            )
        )

    async def set_member_status(
        self, chat_id: ChatId, handle: str, status: HandleStatus, now: datetime
    ) -> None:
        await self.conn.execute(
            update(chat_handles)
            .where(chat_handles.c.chat_id == chat_id, chat_handles.c.handle == handle)
            .values(status=status.value, left_at=now)
        )

    async def set_recipients(self, chat_id: ChatId, key: str, now: datetime) -> None:
        await self.conn.execute(
            update(chats).where(chats.c.id == chat_id).values(recipient_key=key, updated_at=now)
        )

    async def mark_left(self, chat_id: ChatId, now: datetime) -> None:
        await self.conn.execute(
            update(chats).where(chats.c.id == chat_id).values(left_at=now, updated_at=now)
        )

    async def set_health(self, chat_id: ChatId, health: ChatHealth, now: datetime) -> None:
        await self.conn.execute(
            _HEALTH, {"target_id": chat_id, "new_health": health.value, "now": now}
        )
