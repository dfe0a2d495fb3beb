"""/pay/{slug}: the checkout page a payment request's ``checkout_url`` opens.

No API key: the session in the link is the payer's credential, as on a hosted checkout.
Nothing is charged; the buttons settle the request as a simulated payer would.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse

from openlinq.api.deps import ServicesDep
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.experiences import amount_label
from openlinq.domain.payment_views import checkout_slug
from openlinq.store.repos.payment_requests import StoredPaymentRequest

router = APIRouter(tags=["checkout"], include_in_schema=False)

Session = Annotated[str, Query(max_length=64)]
PAGE_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def _page(request: StoredPaymentRequest, slug: str, session: str) -> HTMLResponse:
    details = request.details
    title = escape(details.get("description") or "Payment request")
    state = request.status if request.status != "requested" else request.payer_state
    status = f"<p>Status: <strong>{escape(state or 'awaiting payment')}</strong></p>"
    buttons = ""
    if request.status == "requested":
        action = f"/pay/{escape(slug)}?session={escape(session)}"
        buttons = "".join(
            f'<form method="post" action="{action}"><input type="hidden" name="outcome" '
            f'value="{outcome}"><button>{label}</button></form>'
            for outcome, label in (("pay", "Pay"), ("decline", "Decline the card"))
        )
    body = (
        "<!doctype html><html><head><meta charset=utf-8><title>Checkout</title>"
        "<meta name=viewport content='width=device-width'></head><body>"
        f"<h1>{title}</h1><p class=amount>{escape(amount_label(request))}</p>{status}"
        f"{buttons}<p><small>Simulated checkout (openlinq): no money moves.</small></p>"
        "</body></html>"
    )
    return HTMLResponse(body, headers=PAGE_HEADERS)


@router.get("/pay/{slug}", response_class=HTMLResponse)
async def checkout_page(slug: str, session: Session, services: ServicesDep) -> HTMLResponse:
    request = await services.payment_requests.checkout(session)
    _same_partner(request, slug)
    return _page(request, slug, session)


@router.post("/pay/{slug}", response_class=HTMLResponse)
async def checkout_action(
    slug: str,
    session: Session,
    outcome: Annotated[Literal["pay", "decline"], Form()],
    services: ServicesDep,
) -> HTMLResponse:
    _same_partner(await services.payment_requests.checkout(session), slug)
    request = await services.payment_requests.pay_at_checkout(session, outcome)
    return _page(request, slug, session)


def _same_partner(request: StoredPaymentRequest, slug: str) -> None:
    if checkout_slug(request.account_id) != slug:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "no such checkout", http_status=404)
