"""/v3/attachments: pre-upload, read, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.attachments import AttachmentCreateIn, AttachmentCreateOut, AttachmentOut

router = APIRouter(tags=["attachments"])


@router.post("/attachments", status_code=201, response_model=AttachmentCreateOut)
async def create_attachment(
    body: AttachmentCreateIn, account: AccountDep, services: ServicesDep
) -> AttachmentCreateOut:
    ticket = await services.attachments.create(
        account, body.filename, body.content_type, body.size_bytes
    )
    attachment = ticket.attachment
    return AttachmentCreateOut(
        attachment_id=attachment.id,
        upload_url=ticket.upload_url,
        required_headers={
            "Content-Type": attachment.content_type,
            "Content-Length": str(attachment.size_bytes),
        },
        download_url=services.links.attachment_url(attachment.id, attachment.filename),
        expires_at=ticket.expires_at,
    )


@router.get("/attachments/{attachment_id}", response_model=AttachmentOut)
async def get_attachment(
    attachment_id: str, account: AccountDep, services: ServicesDep
) -> AttachmentOut:
    attachment = await services.attachments.get(account, attachment_id)
    return AttachmentOut(
        id=attachment.id,
        content_type=attachment.content_type,
        created_at=attachment.created_at,
        filename=attachment.filename,
        size_bytes=attachment.size_bytes,
        status=attachment.status,
        download_url=services.attachments.download_url(attachment),
    )


@router.delete("/attachments/{attachment_id}", status_code=204, response_class=Response)
async def delete_attachment(
    attachment_id: str, account: AccountDep, services: ServicesDep
) -> Response:
    await services.attachments.delete(account, attachment_id)
    return Response(status_code=204)
