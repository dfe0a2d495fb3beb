"""Request body size limit: nothing but attachment uploads may send more than a little JSON."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlinq.api.errors import error_response
from openlinq.domain.errors import ErrorCode, LinqError

# Uploads carry their own declared size (checked as the bytes stream in).
UNLIMITED_PREFIXES = ("/uploads/",)


class BodyTooLargeError(HTTPException):
    """Raised while the body streams in. An HTTP exception, so that a handler reading the
    body itself (FastAPI turns any other error there into a 400) also answers 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request bodies are limited to {max_bytes} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLargeError:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = LinqError(
            ErrorCode.INVALID_REQUEST_BODY,
            f"request bodies are limited to {self.max_bytes} bytes",
            http_status=413,
            retryable=False,
        )
        await error_response(error)(scope, receive, send)
