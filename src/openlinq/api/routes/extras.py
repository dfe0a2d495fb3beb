"""The contract's EXTRA endpoints, which this server does not build yet.

Each answers 403 / 2011 naming its feature (after authentication, like any other
endpoint) instead of a 404 that reads as a wrong URL. A later issue builds them;
``location.stop`` is already served by the chats routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from openlinq.api.deps import AccountDep
from openlinq.domain.errors import ErrorCode, LinqError

# (method, path under /v3, the feature a client is told is missing)
EXTRA_ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("POST", "/chats/{chat_id}/polls", "polls"),
    ("POST", "/chats/{chat_id}/background", "chat backgrounds"),
    ("DELETE", "/chats/{chat_id}/background", "chat backgrounds"),
    ("PATCH", "/messages/{message_id}/reactions/{reaction_id}", "sticker placement"),
    ("GET", "/messages/{message_id}/poll", "polls"),
    ("POST", "/messages/{message_id}/poll/options", "polls"),
    ("POST", "/messages/{message_id}/poll/votes", "polls"),
    ("GET", "/phone_numbers/{phone_number}/reputation_audit/{audit_id}", "reputation audits"),
    ("POST", "/phone_numbers/{phone_number}/reputation_audit", "reputation audits"),
    ("GET", "/payments/providers/{provider}", "payment providers"),
    ("POST", "/payments/providers/{provider}/connect", "payment providers"),
    ("POST", "/payments/handles/{handle}/connect", "payment handles"),
    ("GET", "/payments/handles/{handle}/connection", "payment handles"),
    ("DELETE", "/payments/handles/{handle}/connection", "payment handles"),
    ("POST", "/payments/handles/{handle}/verify", "payment handles"),
    ("POST", "/payments", "payments"),
    ("GET", "/payments/{payment_id}", "payments"),
    ("POST", "/payments/{payment_id}/cancel", "payments"),
    ("GET", "/payments/{payment_id}/credentials", "payments"),
    ("GET", "/blocked_handles", "blocked handles"),
    ("POST", "/blocked_handles", "blocked handles"),
    ("DELETE", "/blocked_handles", "blocked handles"),
)

router = APIRouter(tags=["not available yet"])


def _not_available(feature: str) -> Callable[[AccountDep], Awaitable[None]]:
    async def not_available(account: AccountDep) -> None:
        raise LinqError(
            ErrorCode.FEATURE_NOT_AVAILABLE,
            f"the {feature} feature is not available on this openlinq server yet",
        )

    return not_available


for _method, _path, _feature in EXTRA_ENDPOINTS:
    router.add_api_route(
        _path, _not_available(_feature), methods=[_method], include_in_schema=False
    )
