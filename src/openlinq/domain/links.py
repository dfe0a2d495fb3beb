"""Signed, expiring links to this server: uploads, downloads, vCards.

A link is the server's base URL, a path, optional extra parameters, an expiry
and an HMAC-SHA256 over all of them keyed with the server secret (kept in the
database, so every process of a deployment agrees on it). Links can be handed
to anyone: they carry their own authorisation, like presigned S3 URLs.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import quote, urlencode

from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError

UPLOAD_TTL = timedelta(minutes=15)
DOWNLOAD_TTL = timedelta(hours=1)
VCARD_TTL = timedelta(hours=1)


class Links:
    def __init__(self, clock: Clock, base_url: str) -> None:
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.secret = ""  # loaded from the database at start

    def _signature(self, path: str, expires: int, extra: dict[str, str]) -> str:
        message = f"{path}\n{expires}\n{urlencode(sorted(extra.items()))}"
        return hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()

    def sign(
        self, path: str, ttl: timedelta, extra: dict[str, str] | None = None
    ) -> tuple[str, int]:
        """The full URL for ``path``, and when it expires (unix seconds)."""
        extra = extra or {}
        expires = int((self.clock.now() + ttl).timestamp())
        query = {**extra, "expires": str(expires), "sig": self._signature(path, expires, extra)}
        return f"{self.base_url}{path}?{urlencode(query)}", expires

    def verify(
        self, path: str, expires: int, signature: str, extra: dict[str, str] | None = None
    ) -> None:
        expected = self._signature(path, expires, extra or {})
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise LinqError(ErrorCode.ACCESS_DENIED, "this link's signature is not valid")
        if expires < self.clock.now().timestamp():
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
        return self.sign(self.download_path(attachment_id, filename), DOWNLOAD_TTL)[0]
