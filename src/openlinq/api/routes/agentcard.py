"""The simulated agentcard provider over HTTP.

``router`` (under /sim/v1, Bearer key like the rest of the simulator): the per-account
provider switch, the customer's wallet on their phone (the OTP message, card on file,
passkey approvals) and the merchant charging a minted card.

``pages_router``: what people open without an API key — the admin's onboarding page
(``hosted_url``), the customer's attach and approval pages (``attach_url``,
``approval_url``; the token in the URL is the key) and the card fetch of a handoff
(``fetch_url`` with the ``user_token``). Local mode only.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.agentpay import (
    ChargeIn,
    MerchantOut,
    ProviderOut,
    SimProviderIn,
    StageOut,
    WalletActionOut,
    WalletDecisionIn,
    WalletIn,
    WalletMessageOut,
    WalletOut,
    WalletReplyIn,
)
from openlinq.api.schemas.simulator import DeviceMessageOut
from openlinq.delivery.simulator.agentcard import WalletView
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.store.repos.agentpay import AgentPayment

router = APIRouter(prefix="/sim/v1", tags=["simulator"])
pages_router = APIRouter(prefix="/sim/v1/providers", tags=["simulator"], include_in_schema=False)


def _wallet_out(view: WalletView) -> WalletOut:
    return WalletOut(
        handle=view.handle,
        card_on_file=view.card_on_file,
        approval_required=view.approval_required,
        connection_status=view.connection_status,
        messages=[
            WalletMessageOut(
                sender=m.sender,
                text=m.text,
                code=m.code,
                sent_at=m.sent_at,
                expires_at=m.expires_at,
            )
            for m in view.messages
        ],
        actions=[
            WalletActionOut(
                action_id=a.action_id,
                kind=a.kind,
                url=a.url,
                amount_cents=a.payment.amount_cents,
                currency=a.payment.currency,
                description=a.payment.description,
                merchant=MerchantOut(**a.payment.merchant) if a.payment.merchant else None,
                expires_at=a.expires_at,
            )
            for a in view.actions
        ],
    )


@router.put("/payments/providers/{provider}", response_model=ProviderOut)
async def set_provider(
    provider: str, body: SimProviderIn, account: AccountDep, services: ServicesDep
) -> ProviderOut:
    """Enable (ready) or disable the provider for this account, skipping onboarding."""
    status = await services.agentcard.set_provider_status(account, provider, body.status)
    return ProviderOut(provider=provider, status=status)


@router.get("/devices/{handle}/wallet", response_model=WalletOut)
async def get_wallet(handle: str, account: AccountDep, services: ServicesDep) -> WalletOut:
    return _wallet_out(await services.agentcard.wallet(account, handle))


@router.put("/devices/{handle}/wallet", response_model=WalletOut)
async def configure_wallet(
    handle: str, body: WalletIn, account: AccountDep, services: ServicesDep
) -> WalletOut:
    view = await services.agentcard.configure_wallet(
        account, handle, card_on_file=body.card_on_file, approval_required=body.approval_required
    )
    return _wallet_out(view)


@router.post(
    "/devices/{handle}/wallet/reply-code", status_code=201, response_model=DeviceMessageOut
)
async def reply_with_code(
    handle: str, body: WalletReplyIn, account: AccountDep, services: ServicesDep
) -> DeviceMessageOut:
    """The customer texts the code the provider sent into your conversation."""
    message = await services.agentcard.reply_with_code(
        account, handle, to=body.to, chat_id=body.chat_id
    )
    return DeviceMessageOut.of(message)


@router.post("/devices/{handle}/wallet/actions/{action_id}", response_model=StageOut)
async def decide_action(
    handle: str,
    action_id: str,
    body: WalletDecisionIn,
    account: AccountDep,
    services: ServicesDep,
) -> StageOut:
    """The phone attaches a card or approves with its passkey (accept), or declines."""
    stage = await services.agentcard.act(account, handle, action_id, body.decision == "accept")
    return StageOut(stage=stage)


@router.post("/payments/{payment_id}/charge", response_model=StageOut)
async def charge_card(
    payment_id: str, body: ChargeIn, account: AccountDep, services: ServicesDep
) -> StageOut:
    """The merchant authorizes, captures or declines the minted card."""
    return StageOut(stage=await services.agentcard.charge(account, payment_id, body.outcome))


# -- pages --------------------------------------------------------------------------------


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _buttons(choices: tuple[tuple[str, str], ...]) -> str:
    return (
        "<form method='post'>"
        + "".join(
            f"<button name='decision' value='{value}'>{label}</button>" for value, label in choices
        )
        + "</form>"
    )


async def _decision(request: Request, allowed: tuple[str, ...]) -> str:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    decision = (form.get("decision") or [""])[0]
    if decision not in allowed:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER, f"decision must be one of {', '.join(allowed)}"
        )
    return decision


@pages_router.get("/{provider}/onboarding/{session_id}")
async def onboarding_page(provider: str, session_id: str, services: ServicesDep) -> HTMLResponse:
    record = await services.agentcard.onboarding(provider, session_id)
    if record.status != "onboarding":
        return _page(f"{provider}: onboarding is over", f"<p>Status: {record.status}</p>")
    return _page(
        f"Connect your organisation to {provider}",
        "<p>Simulated provider: authorize to let your agents mint virtual cards.</p>"
        + _buttons((("authorize", "Authorize"), ("decline", "Decline"))),
    )


@pages_router.post("/{provider}/onboarding/{session_id}")
async def finish_onboarding(
    provider: str, session_id: str, request: Request, services: ServicesDep
) -> RedirectResponse:
    decision = await _decision(request, ("authorize", "decline"))
    back = await services.agentcard.finish_onboarding(provider, session_id, decision == "authorize")
    return RedirectResponse(back, status_code=303)


# Before the pages: /agentcard/{kind}/{action_id} would take this path too.
@pages_router.get("/agentcard/cards/{card_ref}")
async def fetch_card(
    card_ref: str,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, object]:
    scheme, _, user_token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not user_token:
        raise LinqError(ErrorCode.UNAUTHORIZED, "send the handoff's user_token as a Bearer token")
    return await services.agentcard.fetch_card(card_ref, user_token.strip())


_PAGE_KINDS = {"attach": "Add a card to your wallet", "approve": "Approve this payment"}


@pages_router.get("/agentcard/{kind}/{action_id}")
async def action_page(kind: str, action_id: str, services: ServicesDep) -> HTMLResponse:
    payment, stage = await _action(kind, action_id, services)
    amount = f"{payment.amount_cents / 100:.2f} {payment.currency.upper()}"
    merchant = (payment.merchant or {}).get("name") or "the merchant"
    if stage not in ("attach", "approval"):
        return _page(_PAGE_KINDS[kind], f"<p>This request is {html.escape(stage)}.</p>")
    return _page(
        _PAGE_KINDS[kind],
        f"<p>{html.escape(amount)} at {html.escape(merchant)}</p>"
        + _buttons(
            (("accept", "Add card" if kind == "attach" else "Approve"), ("decline", "Decline"))
        ),
    )


@pages_router.post("/agentcard/{kind}/{action_id}")
async def act_on_page(
    kind: str, action_id: str, request: Request, services: ServicesDep
) -> HTMLResponse:
    await _action(kind, action_id, services)
    decision = await _decision(request, ("accept", "decline"))
    stage = await services.agentcard.decide_on_page(action_id, decision == "accept")
    text = "Declined." if stage == "declined" else "Done: you can close this page."
    return _page(_PAGE_KINDS[kind], f"<p>{text}</p>")


async def _action(kind: str, action_id: str, services: ServicesDep) -> tuple[AgentPayment, str]:
    """The payment behind a page's token; an attach token does not open an approval page."""
    if kind not in _PAGE_KINDS:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "no such page", http_status=404)
    payment, stage = await services.agentcard.page(action_id)
    if (payment.stage == "attach") != (kind == "attach"):
        raise LinqError(ErrorCode.INVALID_PARAMETER, "no such page", http_status=404)
    return payment, stage
