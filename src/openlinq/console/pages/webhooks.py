"""/console/webhooks: the account's subscriptions and a live log of every delivery attempt.

Everything goes through ``SubscriptionService``, the one the API uses, so the rules (target
checks, event names, the line filter) and the log are the API's. Each attempt shows the
request exactly as it was sent (recorded by the dispatcher; the signing secret never is).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from openlinq.api.schemas.webhooks import (
    DeliveryOut,
    RecoverIn,
    SubscriptionCreateIn,
    SubscriptionOut,
    SubscriptionUpdateIn,
)
from openlinq.api.views import delivery_out, subscription_out
from openlinq.console.access import Console, ConsoleDep
from openlinq.console.render import render
from openlinq.store.repos.webhooks import Attempt
from openlinq.webhooks.catalogue import EVENT_TYPES

router = APIRouter()

STATUSES = ("pending", "retrying", "succeeded", "failed")
Status = Literal["pending", "retrying", "succeeded", "failed"]


@dataclass(frozen=True)
class SubscriptionRow:
    view: SubscriptionOut
    failing_since: datetime | None
    latest: DeliveryOut | None


@dataclass(frozen=True)
class AttemptRow:
    attempt: Attempt
    headers: list[tuple[str, str]] | None
    body: str | None


@dataclass(frozen=True)
class DeliveryRow:
    view: DeliveryOut
    subscription_id: str
    target: str
    attempts: list[AttemptRow]


@dataclass(frozen=True)
class LogFilter:
    subscription: str | None
    status: str | None
    event_type: str | None
    cursor: str | None
    limit: int = 25


def _pretty(body: str | None) -> str | None:
    """The body indented for reading; as sent if it is not JSON."""
    if body is None:
        return None
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _attempt_row(attempt: Attempt) -> AttemptRow:
    headers = sorted(attempt.request_headers.items()) if attempt.request_headers else None
    return AttemptRow(attempt, headers, _pretty(attempt.request_body))


async def _subscription_rows(console: Console) -> list[SubscriptionRow]:
    found = await console.services.subscriptions.with_latest(console.account)
    return [
        SubscriptionRow(
            subscription_out(s), s.failing_since, delivery_out(d, []) if d is not None else None
        )
        for s, d in found
    ]


async def _log(console: Console, chosen: LogFilter) -> dict[str, Any]:
    targets = {
        s.id: s.target_url for s in await console.services.subscriptions.of_account(console.account)
    }
    page = await console.services.subscriptions.deliveries(
        console.account,
        chosen.subscription,
        status=chosen.status,
        event_type=chosen.event_type,
        cursor=chosen.cursor,
        limit=chosen.limit,
    )
    rows = [
        DeliveryRow(
            delivery_out(d, attempts),
            d.subscription_id,
            targets.get(d.subscription_id, ""),
            [_attempt_row(a) for a in reversed(attempts)],
        )
        for d, attempts in page.deliveries
    ]
    return {
        "rows": rows,
        "next_cursor": page.next_cursor,
        "chosen": chosen,
        "busy": any(r.view.status in ("pending", "retrying") for r in rows),
    }


SubscriptionParam = Annotated[str | None, Query(max_length=64)]
StatusParam = Annotated[Status | Literal[""] | None, Query()]
EventParam = Annotated[str | None, Query(max_length=64)]
CursorParam = Annotated[str | None, Query(max_length=32)]
LimitParam = Annotated[int, Query(ge=1, le=100)]


def _filter(
    subscription: SubscriptionParam = None,
    status: StatusParam = None,
    event_type: EventParam = None,
) -> LogFilter:
    """The log's filters as the page takes them (it always opens on the first page)."""
    return LogFilter(subscription or None, status or None, event_type or None, None)


def _page_of_log(
    chosen: Annotated[LogFilter, Depends(_filter)],
    cursor: CursorParam = None,
    limit: LimitParam = LogFilter.limit,
) -> LogFilter:
    """The same filters plus the page the log fragment asks for."""
    return replace(chosen, cursor=cursor or None, limit=limit)


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page(
    request: Request, console: ConsoleDep, chosen: Annotated[LogFilter, Depends(_filter)]
) -> HTMLResponse:
    recover_since = console.services.clock.now() - timedelta(hours=1)
    return render(
        request,
        console,
        "webhooks.html",
        subscriptions=await _subscription_rows(console),
        event_types=EVENT_TYPES,
        statuses=STATUSES,
        recover_since=recover_since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **await _log(console, chosen),
    )


@router.get("/webhooks/subscriptions", response_class=HTMLResponse)
async def subscriptions_fragment(request: Request, console: ConsoleDep) -> HTMLResponse:
    rows = await _subscription_rows(console)
    return render(request, console, "_webhook_subscriptions.html", subscriptions=rows)


@router.get("/webhooks/log", response_class=HTMLResponse)
async def log_fragment(
    request: Request, console: ConsoleDep, chosen: Annotated[LogFilter, Depends(_page_of_log)]
) -> HTMLResponse:
    return render(request, console, "_webhook_log.html", **await _log(console, chosen))


@router.post("/webhooks/subscriptions")
async def create(body: SubscriptionCreateIn, console: ConsoleDep) -> dict[str, Any]:
    subscription = await console.services.subscriptions.create(
        console.account,
        target_url=body.target_url,
        subscribed_events=body.subscribed_events,
        phone_numbers=body.phone_numbers,
        routing_key_header=body.routing_key_header,
        routing_id_header=body.routing_id_header,
    )
    return {
        "message": f"Subscribed {subscription.target_url}",
        "id": subscription.id,
        "shown_once": {"label": "Signing secret", "value": subscription.secret},
    }


@router.put("/webhooks/subscriptions/{subscription_id}")
async def update(
    subscription_id: str, body: SubscriptionUpdateIn, console: ConsoleDep
) -> dict[str, Any]:
    # As the API: only the fields sent change.
    given = body.model_dump(include=body.model_fields_set)
    subscription = await console.services.subscriptions.update(
        console.account, subscription_id, **given
    )
    state = "active" if subscription.is_active else "paused"
    return {"message": f"Subscription {state}", "is_active": subscription.is_active}


@router.delete("/webhooks/subscriptions/{subscription_id}")
async def delete(subscription_id: str, console: ConsoleDep) -> dict[str, Any]:
    await console.services.subscriptions.delete(console.account, subscription_id)
    return {"message": "Subscription deleted"}


@router.post("/webhooks/subscriptions/{subscription_id}/deliveries/{delivery_id}/retry")
async def replay(subscription_id: str, delivery_id: str, console: ConsoleDep) -> dict[str, Any]:
    delivery = await console.services.subscriptions.redeliver(
        console.account, subscription_id, delivery_id
    )
    return {"message": f"{delivery.event_type} queued to be sent again", "status": delivery.status}


class ConsoleRecoverIn(RecoverIn):
    subscription_id: str = Field(max_length=64)


@router.post("/webhooks/recover")
async def recover(body: ConsoleRecoverIn, console: ConsoleDep) -> dict[str, Any]:
    count = await console.services.subscriptions.recover(
        console.account, body.subscription_id, body.since
    )
    plural = "delivery" if count == 1 else "deliveries"
    return {"message": f"{count} failed {plural} queued to be sent again", "requeued": count}
