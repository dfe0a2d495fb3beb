"""Agent payment shapes, rendered once for API responses and event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from openlinq.store.repos.agentpay import HandleConnection

if TYPE_CHECKING:
    from openlinq.domain.agentpay import PaymentResult

# The SDK (linq-python 0.65) types connection.* event data as a PaymentRequest, which a
# connection is not: the payload carries what that class requires, with PaymentRequest's
# own words for the state (succeeded = granted, canceled = revoked), and the connection's
# real fields beside them (extra fields are allowed by the SDK's models).
_EVENT_STATUS = {"connected": "succeeded", "revoked": "canceled"}


def connection_event_data(
    connection: HandleConnection, provider: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": connection.id,
        "object": "payment_handle_connection",
        "handle": connection.handle,
        "provider": provider,
        "connection_status": connection.status,
        "status": _EVENT_STATUS[connection.status],
        "amount": 0,
        "currency": "usd",
        "checkout_url": "",
        "created_at": connection.created_at,
        "updated_at": now,
    }


def payment_fields(result: PaymentResult) -> dict[str, Any]:
    """The contract's Payment: the id only once a card is minted."""
    request = result.request
    record = result.record
    return {
        "id": record.id if record is not None and record.card_ref else None,
        "status": result.status,
        "handle": request.handle,
        "amount_cents": request.amount_cents,
        "currency": request.currency,
        "description": request.description,
        "merchant": request.merchant,
        "metadata": request.metadata,
        "attach_url": result.attach_url,
        "approval_url": result.approval_url,
    }
