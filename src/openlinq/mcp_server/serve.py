"""The two transports: stdio (one user, the key given at start) and streamable HTTP (each
request authenticates with an openlinq API key as its bearer token, and its tool calls use it)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from starlette.types import ASGIApp, Receive, Scope, Send

from openlinq.domain.errors import ErrorCode
from openlinq.mcp_server.partner import PartnerApi, error_body, linq_error
from openlinq.mcp_server.tools import build_server

# Where the streamable HTTP endpoint is served (the MCP SDK's default path).
MCP_PATH = "/mcp"
# A key openlinq accepted is not asked about again for this long (one API call per request
# would double the traffic); a revoked key stops working on the MCP endpoint after this.
KEY_CACHE_SECONDS = 30.0


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def run_stdio(base_url: str, api_key: str) -> None:
    async def main() -> None:
        api = PartnerApi(base_url)
        try:
            await build_server(api, lambda _ctx: api_key).run_stdio_async()
        finally:
            await api.aclose()

    anyio.run(main)


def _request_key(ctx: Context[Any, Any]) -> str:
    """The bearer token of the HTTP request carrying this call (checked by ``BearerKeys``)."""
    request = ctx.request_context.request
    headers = getattr(request, "headers", None)
    token = bearer_token(headers.get("authorization") if headers is not None else None)
    if token is None:  # BearerKeys lets no such request through
        raise RuntimeError("an MCP HTTP request without a bearer token reached a tool")
    return token


class BearerKeys:
    """ASGI middleware: an HTTP request must carry ``Authorization: Bearer <API key>`` with a
    key openlinq accepts; otherwise 401 with the Linq error body (code 2004)."""

    def __init__(self, app: ASGIApp, api: PartnerApi, monotonic: Callable[[], float]) -> None:
        self.app = app
        self.api = api
        self.monotonic = monotonic
        self.accepted: dict[str, float] = {}  # key digest -> until (valid keys only)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
        if token is None:
            await _refuse(send, error_body(ErrorCode.UNAUTHORIZED, "missing Bearer API key"))
            return
        refusal = await self._check(token)
        if refusal is not None:
            await _refuse(send, refusal)
            return
        await self.app(scope, receive, send)

    async def _check(self, token: str) -> dict[str, Any] | None:
        """None when openlinq accepts the key, else the error body to answer with."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self.monotonic()
        if self.accepted.get(digest, 0.0) > now:
            return None
        # The cheapest authenticated read; what it answers decides.
        answer = await self.api.call(token, "GET", "/phone_numbers")
        if 200 <= answer.status < 300:
            self.accepted[digest] = now + KEY_CACHE_SECONDS
            return None
        self.accepted.pop(digest, None)
        if linq_error(answer.body) is None:  # not openlinq answering (a proxy's page, say)
            message = f"openlinq answered {answer.status} without a Linq error body"
            return error_body(ErrorCode.SERVER_CONNECTION_ERROR, message)
        body: dict[str, Any] = answer.body
        return body


async def _refuse(send: Send, body: dict[str, Any]) -> None:
    status = int(body["error"]["status"])
    headers = [(b"content-type", b"application/json")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="openlinq"'))
    payload = json.dumps(body).encode()
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def http_app(host: str, api: PartnerApi) -> ASGIApp:
    server = build_server(api, _request_key)
    # host: the SDK's DNS-rebinding protection accepts Host headers naming it.
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return BearerKeys(app, api, time.monotonic)


def run_http(base_url: str, host: str, port: int, announce: Callable[[str], None]) -> None:
    import uvicorn

    async def main() -> None:
        api = PartnerApi(base_url)
        config = uvicorn.Config(http_app(host, api), host=host, port=port, log_level="warning")
        shown = f"[{host}]" if ":" in host else host
        announce(f"openlinq MCP server: http://{shown}:{port}{MCP_PATH} (API {base_url})")
        try:
            await uvicorn.Server(config).serve()
        finally:
            await api.aclose()

    anyio.run(main)
