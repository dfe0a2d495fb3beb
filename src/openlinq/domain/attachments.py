"""Attachments: pre-upload, storage, retrieval, deletion, and media fetched by URL.

Bytes stream straight into the blob store (never whole in memory), are sniffed
against the declared type, and are served back through signed links (domain/links.py:
stable for the attachment's ``download_url``, an hour for media parts).
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from openlinq.blobs.store import BlobNotFoundError, BlobStore, BlobTooLargeError
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import AttachmentId, is_uuid, new_id
from openlinq.domain.links import UPLOAD_TTL, Links
from openlinq.domain.models import Account
from openlinq.domain.parts import MEDIA_TYPES, MessageContent
from openlinq.domain.sniffing import check_content, check_content_type, image_size
from openlinq.outbound import Deadline, OutboundPolicy, pinned_request
from openlinq.store.repos.attachments import Attachment
from openlinq.store.unit import Storage

if TYPE_CHECKING:
    import httpx

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
MAX_URL_MEDIA_BYTES = 10 * 1024 * 1024
SNIFF_BYTES = 8192
FETCH_TIMEOUT_SECONDS = 30.0  # per connect or read
FETCH_DEADLINE_SECONDS = 30.0  # the whole download
MAX_FILENAME = 255
# A JPEG's size can sit behind its EXIF block and thumbnail: read this much to find it.
SIZE_BYTES = 256 * 1024
# The platform transcodes these on arrival; stored files keep their canonical names.
CANONICAL_TYPES = {"audio/mp3": "audio/mpeg", "audio/aiff": "audio/x-aiff"}


@dataclass(frozen=True, slots=True)
class UploadTicket:
    attachment: Attachment
    upload_url: str
    expires_at: datetime


def _safe_filename(raw: str) -> str:
    name = posixpath.basename(raw.replace("\\", "/")).strip()
    if not name or name in (".", "..") or len(name) > MAX_FILENAME:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "filename must be a plain file name")
    return name


class AttachmentService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        blobs: BlobStore,
        links: Links,
        policy: OutboundPolicy,
        *,
        fetch_deadline: float = FETCH_DEADLINE_SECONDS,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.blobs = blobs
        self.links = links
        self.policy = policy
        self.fetch_deadline = fetch_deadline
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx  # the first media URL loads it: not a server at rest

            self._http = httpx.AsyncClient(follow_redirects=False, timeout=FETCH_TIMEOUT_SECONDS)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- the attachments API ----------------------------------------------------------

    async def create(
        self, account: Account, filename: str, content_type: str, size_bytes: int
    ) -> UploadTicket:
        check_content_type(content_type)
        if not 0 < size_bytes <= MAX_UPLOAD_BYTES:
            raise LinqError(
                ErrorCode.FILE_TOO_LARGE, f"size_bytes must be 1 to {MAX_UPLOAD_BYTES} bytes"
            )
        now = self.clock.now()
        attachment = await self._add_pending(
            account,
            _safe_filename(filename),
            content_type,
            now,
            size_bytes=size_bytes,
            upload_expires_at=now + UPLOAD_TTL,
        )
        url, expires = self.links.upload_url(attachment.id)
        return UploadTicket(attachment, url, datetime.fromtimestamp(expires, now.tzinfo))

    async def _add_pending(
        self,
        account: Account,
        filename: str,
        content_type: str,
        now: datetime,
        *,
        size_bytes: int = 0,
        source_url: str | None = None,
        upload_expires_at: datetime | None = None,
    ) -> Attachment:
        """Record a new attachment that waits for its bytes (an upload, a phone's file, a URL)."""
        attachment = Attachment(
            id=AttachmentId(new_id()),
            account_id=account.id,
            filename=filename,
            content_type=content_type,
            size_bytes=size_bytes,
            status="pending",
            source_url=source_url,
            failure=None,
            upload_expires_at=upload_expires_at,
            created_at=now,
            completed_at=None,
        )
        async with self.storage.write() as repos:
            await repos.attachments.add(attachment)
        return attachment

    async def get(self, account: Account, attachment_id: str) -> Attachment:
        if not is_uuid(attachment_id):
            raise LinqError(ErrorCode.ATTACHMENT_NOT_FOUND, f"attachment {attachment_id} not found")
        async with self.storage.read() as repos:
            attachment = await repos.attachments.get(account.id, attachment_id)
        if attachment is None:
            raise LinqError(ErrorCode.ATTACHMENT_NOT_FOUND, f"attachment {attachment_id} not found")
        return attachment

    def download_url(self, attachment: Attachment) -> str | None:
        """The attachment's stable link, once its bytes are in."""
        if attachment.status != "complete":
            return None
        return self.links.attachment_url(attachment.id, attachment.filename)

    async def delete(self, account: Account, attachment_id: str) -> None:
        if not is_uuid(attachment_id):
            raise LinqError(ErrorCode.INVALID_PARAMETER, "attachmentId must be a UUID")
        attachment = await self.get(account, attachment_id)
        async with self.storage.write() as repos:
            await repos.attachments.mark_deleted(attachment.id, self.clock.now())
        await self.blobs.delete(attachment.blob_key)

    # -- the signed upload and download links -------------------------------------------

    async def upload(
        self,
        attachment_id: str,
        *,
        expires: int,
        signature: str,
        content_type: str | None,
        content_length: int | None,
        body: AsyncIterator[bytes],
    ) -> Attachment:
        self.links.verify(self.links.upload_path(attachment_id), expires, signature)
        async with self.storage.read() as repos:
            attachment = await repos.attachments.get(None, attachment_id)
        if attachment is None:
            raise LinqError(ErrorCode.ATTACHMENT_NOT_FOUND)
        if attachment.status != "pending":
            raise LinqError(ErrorCode.STATE_CONFLICT, f"this attachment is {attachment.status}")
        if content_type != attachment.content_type:
            raise LinqError(
                ErrorCode.CONTENT_TYPE_MISMATCH,
                f"Content-Type must be {attachment.content_type}, as declared",
            )
        if content_length is not None and content_length != attachment.size_bytes:
            raise LinqError(
                ErrorCode.FILE_TOO_LARGE
                if content_length > attachment.size_bytes
                else ErrorCode.INVALID_PARAMETER,
                f"Content-Length must be {attachment.size_bytes}, as declared",
            )
        await self._store(attachment, body, attachment.size_bytes, exact=True)
        return replace(attachment, status="complete")

    async def download(
        self, attachment_id: str, filename: str, *, expires: int | None, signature: str
    ) -> tuple[Attachment, AsyncIterator[bytes]]:
        """The bytes behind a download link (``expires`` None: a stable link); a deleted
        attachment's links all answer 404."""
        self.links.verify(self.links.download_path(attachment_id, filename), expires, signature)
        async with self.storage.read() as repos:
            attachment = await repos.attachments.get(None, attachment_id)
        if attachment is None or attachment.status != "complete":
            raise LinqError(ErrorCode.ATTACHMENT_NOT_FOUND)
        try:  # fail with a 404 now rather than in the middle of a streamed response
            await self.blobs.head(attachment.blob_key, 1)
        except BlobNotFoundError as exc:
            raise LinqError(ErrorCode.ATTACHMENT_NOT_FOUND) from exc
        return attachment, self.blobs.read(attachment.blob_key)

    async def _store(
        self, attachment: Attachment, body: AsyncIterator[bytes], limit: int, *, exact: bool
    ) -> int:
        """Stream into the blob store, then sniff; a refused file is marked failed."""
        try:
            size = await self.blobs.write(attachment.blob_key, body, limit)
            if exact and size != attachment.size_bytes:
                raise LinqError(
                    ErrorCode.INVALID_PARAMETER,
                    f"received {size} bytes, {attachment.size_bytes} were declared",
                )
            check_content(
                attachment.content_type, await self.blobs.head(attachment.blob_key, SNIFF_BYTES)
            )
        except BlobTooLargeError as exc:
            await self._fail(attachment, f"larger than {limit} bytes")
            raise LinqError(
                ErrorCode.FILE_TOO_LARGE, f"the file is larger than {limit} bytes"
            ) from exc
        except LinqError as error:
            await self._fail(attachment, error.message)
            await self.blobs.delete(attachment.blob_key)
            raise
        except Exception as exc:  # the sender failed or was too slow: never leave it pending
            await self._fail(attachment, f"{type(exc).__name__}: {exc}")
            await self.blobs.delete(attachment.blob_key)
            raise
        async with self.storage.write() as repos:
            await repos.attachments.set_status(attachment.id, "complete", self.clock.now())
        return size

    async def _fail(self, attachment: Attachment, reason: str) -> None:
        async with self.storage.write() as repos:
            await repos.attachments.set_status(attachment.id, "failed", self.clock.now(), reason)

    async def receive(
        self,
        account: Account,
        filename: str,
        content_type: str | None,
        body: AsyncIterator[bytes],
    ) -> Attachment:
        """A file a simulated phone sends (chosen from disk in the console): typed by its
        name as a URL's file is, checked and stored as any upload, then used by id."""
        name = _safe_filename(filename)
        now = self.clock.now()
        attachment = await self._add_pending(
            account, name, _content_type_of(name, content_type), now
        )
        size = await self._store(attachment, body, MAX_UPLOAD_BYTES, exact=False)
        async with self.storage.write() as repos:
            await repos.attachments.set_size(attachment.id, size)
        return replace(attachment, size_bytes=size, status="complete")

    # -- media parts of a send ------------------------------------------------------------

    async def resolve_media(self, account: Account, content: MessageContent) -> MessageContent:
        """Turn media parts into stored attachments: owned ones checked, URLs fetched."""
        if not any(p["type"] == "media" or p.get("inline_stickers") for p in content.parts):
            return content
        parts: list[dict[str, Any]] = []
        for index, part in enumerate(content.parts):
            if part.get("inline_stickers"):
                parts.append(await self._with_sticker_images(account, part))
                continue
            if part["type"] != "media":
                parts.append(part)
                continue
            if "attachment_id" in part:
                attachment = await self.ready(account, part["attachment_id"])
            elif "source_url" in part:
                attachment = await self.by_url(account, part["source_url"], f"parts[{index}].url")
            else:
                parts.append(part)  # already resolved (a voice memo)
                continue
            parts.append(media_part(attachment, sticker=part.get("sticker", False)))
        return replace(content, parts=tuple(parts))

    async def _with_sticker_images(self, account: Account, part: dict[str, Any]) -> dict[str, Any]:
        stickers = []
        for sticker in part["inline_stickers"]:
            reference = sticker.get("attachment_id") or self.links.attachment_id_of(sticker["url"])
            if reference is None:
                raise LinqError(
                    ErrorCode.INVALID_MESSAGE_CONTENT,
                    "inline sticker urls must be attachment download_urls from this server",
                )
            image = await self.ready(account, reference)
            if not image.content_type.startswith("image/"):
                raise LinqError(ErrorCode.INVALID_FILE_TYPE, "inline stickers are images")
            stickers.append(
                {
                    "range": sticker["range"],
                    "id": image.id,
                    "file_name": image.filename,
                    "mime_type": image.content_type,
                }
            )
        return {**part, "inline_stickers": stickers}

    async def by_url(self, account: Account, url: str, field: str) -> Attachment:
        """A media URL: one of this server's download links is the attachment it names
        (the account's own only: another's is 404 before anything is sent, and nothing is
        copied); any other URL is fetched."""
        own = self.links.attachment_id_of(url)
        if own is not None:
            return await self.ready(account, own)
        return await self.fetch(account, url, field)

    async def image_size(self, attachment: Attachment) -> tuple[int, int] | None:
        """An image attachment's (width, height), measured from its stored bytes."""
        try:
            head = await self.blobs.head(attachment.blob_key, SIZE_BYTES)
        except BlobNotFoundError:
            return None
        return image_size(head)

    async def ready(self, account: Account, attachment_id: str) -> Attachment:
        attachment = await self.get(account, attachment_id)
        if attachment.status == "pending":
            raise LinqError(ErrorCode.ATTACHMENT_NOT_READY, "the attachment is not uploaded yet")
        if attachment.status != "complete":
            raise LinqError(ErrorCode.ATTACHMENT_NOT_FOUND, "the attachment failed its upload")
        return attachment

    async def fetch(self, account: Account, url: str, field: str) -> Attachment:
        """Download a public file (at most 10 MB), check it and keep it as an attachment.

        The whole download (resolving, connecting, headers, body) must finish within the
        fetch deadline; the database writes in between are not cut short by it.
        """
        import httpx  # its error type below; loaded by the first media URL

        self.policy.check_url(url, field, ErrorCode.INVALID_MESSAGE_CONTENT)
        filename = posixpath.basename(unquote(urlsplit(url).path)) or "attachment"
        now = self.clock.now()
        deadline = Deadline(self.fetch_deadline)
        try:
            async with deadline():
                target = await self.policy.resolve(url)
        except (PermissionError, ConnectionError) as exc:
            raise LinqError(ErrorCode.FILE_DOWNLOAD_FAILED, f"{field}: {exc}") from exc
        except TimeoutError as exc:
            raise _too_slow(field, deadline) from exc
        request_url, headers, extensions = pinned_request(target)
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with deadline():
                    response = await stack.enter_async_context(
                        self.http.stream("GET", request_url, headers=headers, extensions=extensions)
                    )
                if not response.is_success:
                    raise LinqError(
                        ErrorCode.FILE_DOWNLOAD_FAILED,
                        f"{field}: the server answered HTTP {response.status_code}",
                    )
                declared = int(response.headers.get("content-length") or 0)
                if declared > MAX_URL_MEDIA_BYTES:
                    raise LinqError(ErrorCode.FILE_TOO_LARGE, f"{field}: larger than 10 MB")
                attachment = await self._add_pending(
                    account,
                    filename[:MAX_FILENAME],
                    _content_type_of(filename, response.headers.get("content-type")),
                    now,
                    source_url=url,
                )
                size = await self._store(
                    attachment,
                    deadline.chunks(response.aiter_bytes()),
                    MAX_URL_MEDIA_BYTES,
                    exact=False,
                )
        except TimeoutError as exc:
            raise _too_slow(field, deadline) from exc
        except httpx.HTTPError as exc:
            raise LinqError(ErrorCode.FILE_DOWNLOAD_FAILED, f"{field}: {exc}") from exc
        async with self.storage.write() as repos:
            await repos.attachments.set_size(attachment.id, size)
        return replace(attachment, size_bytes=size, status="complete")


def _too_slow(field: str, deadline: Deadline) -> LinqError:
    return LinqError(
        ErrorCode.FILE_DOWNLOAD_FAILED,
        f"{field}: the download did not finish within {deadline.seconds:g} s",
    )


def _content_type_of(filename: str, header: str | None) -> str:
    """The extension decides (as the platform's URL rules do), else the server's header."""
    extension = posixpath.splitext(filename)[1].lower()
    if extension in MEDIA_TYPES:
        return MEDIA_TYPES[extension]
    if extension:
        raise LinqError(ErrorCode.INVALID_FILE_TYPE, f"{extension} files are not supported")
    declared = (header or "").split(";")[0].strip().lower()
    return check_content_type(CANONICAL_TYPES.get(declared, declared))


def media_part(attachment: Attachment, *, sticker: bool = False) -> dict[str, Any]:
    """The stored form of a media part; its ``url`` is signed when it is shown."""
    return {
        "type": "media",
        "id": attachment.id,
        "filename": attachment.filename,
        "mime_type": attachment.content_type,
        "size_bytes": attachment.size_bytes,
        "sticker": sticker,
    }


@asynccontextmanager
async def spooled(blobs: BlobStore, attachment: Attachment) -> AsyncIterator[str]:
    """The attachment's bytes in a temporary file, for tools that need a path."""
    suffix = posixpath.splitext(attachment.filename)[1]
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        async for chunk in blobs.read(attachment.blob_key):
            await asyncio.to_thread(handle.write, chunk)
        handle.flush()
        yield handle.name
