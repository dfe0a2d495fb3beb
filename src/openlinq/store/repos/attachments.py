from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from openlinq.domain.ids import AccountId, AttachmentId
from openlinq.store.engine import DbConnection
from openlinq.store.tables import attachments


@dataclass(frozen=True, slots=True)
class Attachment:
    id: AttachmentId
    account_id: AccountId
    filename: str
    content_type: str
    size_bytes: int
    status: str  # pending | complete | failed
    source_url: str | None
    failure: str | None
    upload_expires_at: datetime | None
    created_at: datetime
    completed_at: datetime | None

    @property
    def blob_key(self) -> str:
        return f"{self.account_id}/{self.id}"


def _attachment(row: Any) -> Attachment:
    return Attachment(
        id=AttachmentId(row.id),
        account_id=AccountId(row.account_id),
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        status=row.status,
        source_url=row.source_url,
        failure=row.failure,
        upload_expires_at=row.upload_expires_at,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


class AttachmentRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def add(self, attachment: Attachment) -> None:
        await self.conn.execute(
            attachments.insert().values(
                id=attachment.id,
                account_id=attachment.account_id,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size_bytes=attachment.size_bytes,
                status=attachment.status,
                source_url=attachment.source_url,
                failure=attachment.failure,
                upload_expires_at=attachment.upload_expires_at,
                created_at=attachment.created_at,
                completed_at=attachment.completed_at,
            )
        )

    async def get(self, account_id: AccountId | None, attachment_id: str) -> Attachment | None:
        """``account_id`` None is for signed links, which already prove what they name."""
        query = select(attachments).where(
            attachments.c.id == attachment_id, attachments.c.deleted_at.is_(None)
        )
        if account_id is not None:
            query = query.where(attachments.c.account_id == account_id)
        row = (await self.conn.execute(query)).first()
        return _attachment(row) if row else None

    async def set_status(
        self, attachment_id: AttachmentId, status: str, now: datetime, failure: str | None = None
    ) -> None:
        await self.conn.execute(
            update(attachments)
            .where(attachments.c.id == attachment_id)
            .values(
                status=status,
                failure=failure,
                completed_at=now if status == "complete" else None,
            )
        )

    async def mark_deleted(self, attachment_id: AttachmentId, now: datetime) -> None:
        await self.conn.execute(
            update(attachments).where(attachments.c.id == attachment_id).values(deleted_at=now)
        )

    async def set_size(self, attachment_id: AttachmentId, size_bytes: int) -> None:
        await self.conn.execute(
            update(attachments)
            .where(attachments.c.id == attachment_id)
            .values(size_bytes=size_bytes)
        )
