"""Signed links to this server: uploads, downloads, vCards.

A link is the server's base URL, a path, optional extra parameters, an expiry
and an HMAC-SHA256 over all of them keyed with the server secret (kept in the
database, so every process of a deployment agrees on it). Links can be handed
to anyone: they carry their own authorisation, like presigned S3 URLs.

An attachment has two kinds of download link, as the contract has: a stable one
(``attachment_url``: no expiry; the attachments API's ``download_url``, a voice memo's
``url``, an inline sticker's ``url``, which agents store and reuse) and a presigned one
that expires in an hour (``download_url``: media parts, reaction stickers). Both name
the attachment, so deleting it revokes both (they answer 404 from then on).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import quote, urlencode

from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import is_uuid

UPLOAD_TTL = timedelta(minutes=15)
DOWNLOAD_TTL = timedelta(hours=1)
VCARD_TTL = timedelta(hours=1)
# Signed in place of an expiry in a link that never expires (no expiry is ever this text).
_NEVER = "never"


class Links:
    def __init__(self, clock: Clock, base_url: str) -> None:
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.secret = ""  # loaded from the database at start

    def _signature(self, path: str, expires: int | None, extra: dict[str, str]) -> str:
        until = _NEVER if expires is None else str(expires)
        message = f"{path}\n{until}\n{urlencode(sorted(extra.items()))}"
        return hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()

    def sign(
        self, path: str, ttl: timedelta, extra: dict[str, str] | None = None
    ) -> tuple[str, int]:
        """The full URL for ``path``, and when it expires (unix seconds)."""
        extra = extra or {}
        expires = int((self.clock.now() + ttl).timestamp())
        query = {**extra, "expires": str(expires), "sig": self._signature(path, expires, extra)}
        return f"{self.base_url}{path}?{urlencode(query)}", expires

    def sign_stable(self, path: str) -> str:
        """The full URL for ``path``, valid for as long as what it names exists."""
        return f"{self.base_url}{path}?{urlencode({'sig': self._signature(path, None, {})})}"

    def verify(
        self, path: str, expires: int | None, signature: str, extra: dict[str, str] | None = None
    ) -> None:
        """Check a link's signature and expiry; ``expires`` None is a stable link's."""
        expected = self._signature(path, expires, extra or {})
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise LinqError(ErrorCode.ACCESS_DENIED, "this link's signature is not valid")
        if expires is not None and expires < self.clock.now().timestamp():
            raise LinqError(ErrorCode.ACCESS_DENIED, "this link has expired")

    # -- the links the API hands out -------------------------------------------------

    @staticmethod
    def upload_path(attachment_id: str) -> str:
        return f"/uploads/{attachment_id}"

    @staticmethod
    def download_path(attachment_id: str, filename: str) -> str:
        return f"/files/{attachment_id}/{quote(filename)}"

    def upload_url(self, attachment_id: str) -> tuple[str, int]:
        return self.sign(self.upload_path(attachment_id), UPLOAD_TTL)

    def download_url(self, attachment_id: str, filename: str) -> str:
        """A presigned link that expires in an hour (media parts, stickers)."""
        return self.sign(self.download_path(attachment_id, filename), DOWNLOAD_TTL)[0]

    def attachment_url(self, attachment_id: str, filename: str) -> str:
        """The attachment's stable link (the API's ``download_url``): it never expires."""
        return self.sign_stable(self.download_path(attachment_id, filename))

    def attachment_id_of(self, url: str) -> str | None:
        """The attachment one of this server's download links names, or None for any
        other URL (another host, another path)."""
        prefix = f"{self.base_url}/files/"
        if not url.startswith(prefix):
            return None
        candidate = url[len(prefix) :].split("/", 1)[0]
        return candidate if is_uuid(candidate) else None
