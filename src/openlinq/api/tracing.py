"""Trace ids on every request and response, and the last line of defence for errors."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlinq.api.errors import internal_error_response
from openlinq.domain.tracing import (
    new_span_id,
    new_trace_id,
    reset_trace_id,
    set_trace_id,
    trace_id_from_traceparent,
)

log = logging.getLogger(__name__)


class TraceMiddleware:
    """Honours an incoming ``traceparent``, echoes the trace on every response.

    Anything that escapes the application becomes a logged, Linq-shaped 500
    carrying the same trace id, never the server's default error page.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"traceparent", b"").decode("latin-1")
        trace_id = trace_id_from_traceparent(incoming) or new_trace_id()
        trace_headers = [
            (b"traceparent", f"00-{trace_id}-{new_span_id()}-01".encode()),
            (b"x-trace-id", trace_id.encode()),
        ]
        started = False

        async def send_with_trace(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *trace_headers]
            await send(message)

        token = set_trace_id(trace_id)
        try:
            await self.app(scope, receive, send_with_trace)
        except Exception:
            log.exception("unhandled error (trace %s)", trace_id)
            if not started:
                await internal_error_response()(scope, receive, send_with_trace)
        finally:
            reset_trace_id(token)
