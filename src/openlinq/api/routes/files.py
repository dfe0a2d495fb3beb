"""The signed upload and download links the attachments API hands out (no Bearer key:
the signature is the authorisation, as with presigned S3 URLs)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from openlinq.api.deps import ServicesDep

router = APIRouter(tags=["files"])

# User files are served as downloads in a sandbox: an uploaded SVG or HTML file must never
# run as a page of the API's origin, and no browser may guess a type we did not declare.
FILE_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
}
_UNSAFE_IN_QUOTES = re.compile(r'[^\x20-\x7e]|["\\]')

Expires = Annotated[int, Query()]
Signature = Annotated[str, Query(max_length=128)]


@router.put("/uploads/{attachment_id}", status_code=200, response_class=Response)
async def upload(
    attachment_id: str,
    request: Request,
    services: ServicesDep,
    expires: Expires,
    sig: Signature,
    content_type: Annotated[str | None, Header()] = None,
    content_length: Annotated[int | None, Header()] = None,
) -> Response:
    await services.attachments.upload(
        attachment_id,
        expires=expires,
        signature=sig,
        content_type=content_type,
        content_length=content_length,
        body=request.stream(),
    )
    return Response(status_code=200)


@router.get("/files/{attachment_id}/{filename}", response_class=StreamingResponse)
async def download(
    attachment_id: str,
    filename: str,
    services: ServicesDep,
    sig: Signature,
    expires: Annotated[int | None, Query()] = None,  # absent: the attachment's stable link
) -> StreamingResponse:
    attachment, chunks = await services.attachments.download(
        attachment_id, filename, expires=expires, signature=sig
    )
    return StreamingResponse(
        chunks,
        media_type=attachment.content_type,
        headers={
            "content-length": str(attachment.size_bytes),
            "content-disposition": content_disposition(attachment.filename),
            **FILE_HEADERS,
        },
    )


def content_disposition(filename: str) -> str:
    """``attachment`` with the file's name: an ASCII fallback and the exact UTF-8 name
    (RFC 6266 / RFC 8187), so no name can break out of the header."""
    fallback = _UNSAFE_IN_QUOTES.sub("_", filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
