"""One access-log line per request: method, path, status, time taken, trace id.

uvicorn's own access log is off (serving.py): it has no trace id and no duration. The
path is logged as it came on the wire, still percent-encoded (a decoded ``%0a`` would
start a fake log line) and without its query string (signed links carry their
signature there), with a carrier endpoint's line token masked (api/carriers.py). Headers are
never logged, so neither is an API key.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlinq.api.carriers import loggable_path

log = logging.getLogger("openlinq.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None
        trace_id: str | None = None

        async def send_logged(message: Message) -> None:
            nonlocal status, trace_id
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name == b"x-trace-id":
                        trace_id = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            ms = round((time.perf_counter() - started) * 1000, 1)
            method = scope["method"]
            path = loggable_path(
                (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
            )
            log.info(
                "%s %s %s %.1f ms trace=%s",
                method,
                path,
                status if status is not None else "-",  # the client left before an answer
                ms,
                trace_id or "-",
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "ms": ms,
                    "trace_id": trace_id,
                },
            )
