"""The contract's ``PaymentRequest``, for API responses and ``payment.*`` event data."""

from __future__ import annotations

from typing import Any

from openlinq.store.repos.payment_requests import StoredPaymentRequest

JSON = dict[str, Any]

# The webhook classes' status vocabulary (succeeded|failed|canceled|expired) has no
# "declined" or "authorized": a declined attempt is a failed one; authorized is kept.
EVENT_STATUS = {"declined": "failed"}


def checkout_slug(account_id: str) -> str:
    """The partner's checkout slug: stable per account, reveals nothing else."""
    return f"p{account_id.replace('-', '')[:12]}"


def checkout_url(request: StoredPaymentRequest, base_url: str) -> str:
    slug = checkout_slug(request.account_id)
    return f"{base_url.rstrip('/')}/pay/{slug}?session={request.checkout_session}"


def payment_request_view(request: StoredPaymentRequest, base_url: str) -> JSON:
    details = request.details
    subscription = details["mode"] == "subscription"
    view: JSON = {
        "id": request.id,
        "object": "payment_request",
        "amount": details["amount"],
        "currency": details["currency"],
        "checkout_url": checkout_url(request, base_url),
        "created_at": request.created_at,
        "updated_at": request.updated_at,
        "mode": details["mode"],
        "status": request.status,
        "rail": details["rail"],
        "description": details.get("description"),
        "metadata": details.get("metadata"),
        "expires_at": request.expires_at,
        "paid_at": request.paid_at,
        "stripe": details.get("stripe"),
        "natural": details.get("natural"),
    }
    if subscription:
        for field in ("price_id", "quantity", "interval", "interval_count", "discount"):
            view[field] = details.get(field)
        view["trial_end"] = details.get("trial_end")
    return view


def payment_event_view(request: StoredPaymentRequest, what: str, base_url: str) -> JSON:
    """``payment.<what>`` data: the request as GET returns it, status told by the event."""
    view = payment_request_view(request, base_url)
    view["status"] = EVENT_STATUS.get(what, what)
    return view
