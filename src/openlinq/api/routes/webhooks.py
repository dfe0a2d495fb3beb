"""/v3/webhook-subscriptions and /v3/webhook-events, plus the delivery log (our extension)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.webhooks import (
    DeliveryOut,
    DeliveryPageOut,
    EventTypesOut,
    RecoverIn,
    RecoverOut,
    SubscriptionCreateIn,
    SubscriptionCreateOut,
    SubscriptionListOut,
    SubscriptionOut,
    SubscriptionUpdateIn,
)
from openlinq.api.views import delivery_out, subscription_out, subscription_view
from openlinq.webhooks.catalogue import EVENT_TYPES, EVENTS_DOC_URL

router = APIRouter(tags=["webhooks"])


@router.get("/webhook-events", response_model=EventTypesOut)
async def list_event_types(account: AccountDep) -> EventTypesOut:
    return EventTypesOut(doc_url=EVENTS_DOC_URL, events=list(EVENT_TYPES))


@router.post("/webhook-subscriptions", status_code=201, response_model=SubscriptionCreateOut)
async def create_subscription(
    body: SubscriptionCreateIn, account: AccountDep, services: ServicesDep
) -> SubscriptionCreateOut:
    subscription = await services.subscriptions.create(
        account,
        target_url=body.target_url,
        subscribed_events=body.subscribed_events,
        phone_numbers=body.phone_numbers,
        routing_key_header=body.routing_key_header,
        routing_id_header=body.routing_id_header,
    )
    return SubscriptionCreateOut.model_validate(
        {**subscription_view(subscription), "signing_secret": subscription.secret}
    )


@router.get("/webhook-subscriptions", response_model=SubscriptionListOut)
async def list_subscriptions(account: AccountDep, services: ServicesDep) -> SubscriptionListOut:
    found = await services.subscriptions.of_account(account)
    return SubscriptionListOut(subscriptions=[subscription_out(s) for s in found])


@router.get("/webhook-subscriptions/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(
    subscription_id: str, account: AccountDep, services: ServicesDep
) -> SubscriptionOut:
    return subscription_out(await services.subscriptions.get(account, subscription_id))


@router.put("/webhook-subscriptions/{subscription_id}", response_model=SubscriptionOut)
async def update_subscription(
    subscription_id: str, body: SubscriptionUpdateIn, account: AccountDep, services: ServicesDep
) -> SubscriptionOut:
    # Only the fields the client sent change; an explicit null clears a nullable one.
    given = body.model_dump(include=body.model_fields_set)
    subscription = await services.subscriptions.update(account, subscription_id, **given)
    return subscription_out(subscription)


@router.delete("/webhook-subscriptions/{subscription_id}", status_code=204, response_class=Response)
async def delete_subscription(
    subscription_id: str, account: AccountDep, services: ServicesDep
) -> Response:
    await services.subscriptions.delete(account, subscription_id)
    return Response(status_code=204)


@router.get("/webhook-subscriptions/{subscription_id}/deliveries", response_model=DeliveryPageOut)
async def list_deliveries(
    subscription_id: str,
    account: AccountDep,
    services: ServicesDep,
    status: Literal["pending", "retrying", "succeeded", "failed"] | None = None,
    event_type: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeliveryPageOut:
    """openlinq extension: every delivery and its attempts, newest first."""
    page = await services.subscriptions.deliveries(
        account, subscription_id, status=status, event_type=event_type, cursor=cursor, limit=limit
    )
    return DeliveryPageOut(
        deliveries=[delivery_out(d, a) for d, a in page.deliveries], next_cursor=page.next_cursor
    )


@router.post(
    "/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=DeliveryOut,
)
async def retry_delivery(
    subscription_id: str, delivery_id: str, account: AccountDep, services: ServicesDep
) -> DeliveryOut:
    """openlinq extension: deliver one event again now."""
    delivery = await services.subscriptions.redeliver(account, subscription_id, delivery_id)
    return delivery_out(delivery, [])


@router.post(
    "/webhook-subscriptions/{subscription_id}/recover", status_code=202, response_model=RecoverOut
)
async def recover_deliveries(
    subscription_id: str, body: RecoverIn, account: AccountDep, services: ServicesDep
) -> RecoverOut:
    """openlinq extension: deliver again every event that failed since ``since``."""
    count = await services.subscriptions.recover(account, subscription_id, body.since)
    return RecoverOut(requeued=count)
