"""How openlinq is served over HTTP: uvicorn, with the connection limits a server facing
careless or hostile clients needs.

uvicorn 0.54 times out idle keep-alive connections (``timeout_keep_alive``) and can bound
concurrent connections (``limit_concurrency``), but a connection that never finishes its
request head is kept open forever (a slow-loris client holds one socket per connection
with a byte every few seconds), and its over-limit answer is a text/plain 503. The
protocol below adds a header deadline and answers the limit with the Linq body.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from openlinq.api.errors import error_response
from openlinq.config import Settings
from openlinq.domain.errors import ErrorCode, LinqError

GRACEFUL_SHUTDOWN_SECONDS = 5

_OVERLOADED = LinqError(
    ErrorCode.SERVER_CONNECTION_ERROR,
    "the server is at its connection limit; retry shortly",
    retry_after=1,
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request head."""

    header_timeout: float = 10.0

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timer: asyncio.TimerHandle | None = None
        # The limit is enforced by _limited (Linq-shaped 503), not by uvicorn's text one.
        self.connection_limit = self.limit_concurrency
        self.limit_concurrency = None
        self.app = self._limited(self.app)

    def _limited(self, app: Any) -> Any:
        async def limited(scope: Any, receive: Any, send: Any) -> None:
            limit = self.connection_limit
            # This connection and this request's task are already counted.
            if limit is not None and (len(self.connections) > limit or len(self.tasks) > limit):
                await error_response(_OVERLOADED)(scope, receive, send)
                return
            await app(scope, receive, send)

        return limited

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._await_head()  # the next request head has begun (or not yet)
        else:
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        """Start the clock for a request head, unless it is already running."""
        if self.header_timer is None and not self.transport.is_closing():
            self.header_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _head_timed_out(self) -> None:
        self.header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration of ``openlinq serve`` (and of the test servers)."""
    protocol = type(
        "OpenlinqH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": settings.header_timeout_seconds},
    )
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol,
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections,
        # Console pages hold a live-update stream open; shutdown must not wait for them.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Our access log (api/access_log.py) replaces uvicorn's, and uvicorn's own lines go
        # through the handler logs.configure_logging installs (text or JSON alike).
        **{"log_level": settings.log_level, "access_log": False, "log_config": None, **options},
    )
