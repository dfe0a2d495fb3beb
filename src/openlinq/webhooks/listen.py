"""A local webhook receiver for development: verifies every delivery and shows it.

``openlinq webhooks listen`` runs it; with an API key it also subscribes itself
to the server (and unsubscribes on exit), so the signing secret is known.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openlinq.webhooks.signing import legacy_signature


@dataclass(frozen=True, slots=True)
class Received:
    event: dict[str, Any] | None
    headers: dict[str, str]
    body: bytes
    standard_ok: bool | None  # None when no secret is known
    legacy_ok: bool | None
    error: str | None


def verify(secret: str | None, headers: dict[str, str], body: bytes) -> Received:
    """Check both signature schemes the server sends, and parse the envelope."""
    error = None
    standard_ok = legacy_ok = None
    if secret:
        try:
            Webhook(secret).verify(body.decode(), headers)
            standard_ok = True
        except WebhookVerificationError as exc:
            standard_ok, error = False, str(exc)
        timestamp = headers.get("x-webhook-timestamp", "")
        expected = legacy_signature(secret, int(timestamp), body) if timestamp.isdigit() else ""
        legacy_ok = hmac.compare_digest(
            expected.encode(), headers.get("x-webhook-signature", "").encode()
        )
    try:
        event = json.loads(body)
    except ValueError as exc:
        event, error = None, error or f"body is not JSON: {exc}"
    return Received(event, headers, body, standard_ok, legacy_ok, error)


Forward = Callable[[Received], Awaitable[int]]


def receiver_app(
    secret: Callable[[], str | None],
    show: Callable[[Received, int | None], None],
    forward: Forward | None = None,
) -> Starlette:
    """Verify each delivery; with ``forward``, pass the verified ones on and answer openlinq
    with the target's status (so the delivery log and the retries tell the truth)."""

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        received = verify(secret(), headers, body)
        if received.standard_ok is False:
            show(received, None)
            return JSONResponse({"error": "bad signature"}, status_code=400)
        status = await forward(received) if forward is not None else None
        show(received, status)
        return JSONResponse({"ok": True, "forwarded": status}, status_code=status or 200)

    return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
