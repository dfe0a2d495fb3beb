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
    ("POST", "/payment_requests", "payment requests"),
    ("GET", "/payment_requests", "payment requests"),
    ("GET", "/payment_requests/{payment_request_id}", "payment requests"),
    ("POST", "/payment_requests/{payment_request_id}/cancel", "payment requests"),
    ("GET", "/experiences", "experiences"),
    ("GET", "/experiences/{experience}", "experiences"),
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
