"""The data of webhook_subscription.* account events, for the API's changes and the
dispatcher's automatic disable alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openlinq.domain.views import Origin, account_event_data
from openlinq.store.repos.webhooks import Subscription


def subscription_event_data(
    subscription: Subscription,
    summary: str,
    now: datetime,
    change: dict[str, Any] | None = None,
    origin: Origin = "api",
) -> dict[str, Any]:
    return account_event_data(
        summary,
        now,
        origin,
        webhook_subscription={"id": subscription.id, "target_url": safe_url(subscription)},
        change=change,
    )


def safe_url(subscription: Subscription) -> str:
    """The target URL without its query (which may hold tokens), as account events show it."""
    return subscription.target_url.split("?", 1)[0].split("#", 1)[0]
