"""Voice memos: one audio file sent as an iMessage voice-memo bubble.

MP3, M4A, AAC, CAF, WAV, AIFF or AMR, at most 10 MB, by public URL or
pre-uploaded attachment, alone in its message; the duration is read from the
file itself (mutagen), and is null when the file does not tell it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from openlinq.blobs.store import BlobStore
from openlinq.domain.attachments import AttachmentService, media_part, spooled
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.messaging import MessagingService, SendResult
from openlinq.domain.models import Account
from openlinq.domain.parts import MessageContent
from openlinq.store.repos.attachments import Attachment

VOICE_MEMO_TYPES = frozenset(
    {
        "audio/mpeg",
        "audio/mp3",
        "audio/x-m4a",
        "audio/mp4",
        "audio/aac",
        "audio/x-caf",
        "audio/x-wav",
        "audio/wav",
        "audio/aiff",
        "audio/x-aiff",
        "audio/amr",
    }
)
MAX_VOICE_MEMO_BYTES = 10 * 1024 * 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VoiceMemo:
    sent: SendResult
    attachment: Attachment
    duration_ms: int | None


class VoiceMemoService:
    def __init__(
        self, attachments: AttachmentService, messaging: MessagingService, blobs: BlobStore
    ) -> None:
        self.attachments = attachments
        self.messaging = messaging
        self.blobs = blobs

    async def send(
        self,
        account: Account,
        chat_id: str,
        *,
        voice_memo_url: str | None,
        attachment_id: str | None,
        override_optout: bool,
        fingerprint: str,
    ) -> VoiceMemo:
        if (voice_memo_url is None) == (attachment_id is None):
            raise LinqError(
                ErrorCode.INVALID_PARAMETER, "give exactly one of voice_memo_url or attachment_id"
            )
        if attachment_id is not None:
            attachment = await self.attachments.ready(account, attachment_id)
        else:
            assert voice_memo_url is not None
            attachment = await self.attachments.fetch(account, voice_memo_url, "voice_memo_url")
        if attachment.content_type not in VOICE_MEMO_TYPES:
            raise LinqError(
                ErrorCode.INVALID_FILE_TYPE,
                "voice memos are MP3, M4A, AAC, CAF, WAV, AIFF or AMR audio",
            )
        if attachment.size_bytes > MAX_VOICE_MEMO_BYTES:
            raise LinqError(ErrorCode.FILE_TOO_LARGE, "voice memos are at most 10 MB")
        duration = await self._duration_ms(attachment)
        part = {**media_part(attachment), "voice_memo": True, "duration_ms": duration}
        sent = await self.messaging.send_to_chat(
            account,
            chat_id,
            MessageContent(parts=(part,), override_optout=override_optout),
            fingerprint,
        )
        return VoiceMemo(sent, attachment, duration)

    async def _duration_ms(self, attachment: Attachment) -> int | None:
        import mutagen  # loaded by the first voice memo, not by every server

        async with spooled(self.blobs, attachment) as path:
            try:
                audio = await asyncio.to_thread(mutagen.File, path)
            except Exception as exc:
                # The duration is optional (null on the wire): a file the parser cannot read
                # (an MP4 without its moov box, a truncated header) is sent without one.
                log.info("voice memo %s: duration unreadable (%r)", attachment.id, exc)
                return None
        if audio is None or getattr(audio, "info", None) is None:
            return None
        seconds: float = audio.info.length
        return round(seconds * 1000)
