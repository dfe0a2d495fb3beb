"""A phone's agent-payments wallet on its console page: being the customer of agentcard.

The same SimulatedAgentcard calls as /sim/v1/devices/{handle}/wallet: the one-time code
the provider texted, a card on file, passkey approvals to accept or decline.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from openlinq.api.schemas.agentpay import WalletDecisionIn, WalletIn, WalletReplyIn
from openlinq.console.access import ConsoleDep
from openlinq.console.render import render

router = APIRouter()


@router.get("/phones/{handle}/wallet", response_class=HTMLResponse)
async def wallet_fragment(request: Request, console: ConsoleDep, handle: str) -> HTMLResponse:
    wallet = await console.services.agentcard.wallet(console.account, handle)
    phone_path = f"/console/phones/{quote(wallet.handle, safe='')}"
    return render(request, console, "_phone_wallet.html", wallet=wallet, phone_path=phone_path)


@router.put("/phones/{handle}/wallet")
async def configure_wallet(handle: str, body: WalletIn, console: ConsoleDep) -> dict[str, Any]:
    wallet = await console.services.agentcard.configure_wallet(
        console.account,
        handle,
        card_on_file=body.card_on_file,
        approval_required=body.approval_required,
    )
    card = "a card on file" if wallet.card_on_file else "no card on file"
    passkey = "asks for its passkey" if wallet.approval_required else "no passkey step"
    return {"message": f"{wallet.handle}: {card}, {passkey}"}


@router.post("/phones/{handle}/wallet/actions/{action_id}")
async def decide(
    handle: str, action_id: str, body: WalletDecisionIn, console: ConsoleDep
) -> dict[str, Any]:
    accept = body.decision == "accept"
    stage = await console.services.agentcard.act(console.account, handle, action_id, accept)
    messages = {
        "declined": "Declined",
        "attach": "Card added: the agent's next create moves the payment on",
        "approved": "Approved: the agent's next create collects the card",
    }
    return {"message": messages[stage], "stage": stage}


@router.post("/phones/{handle}/wallet/reply-code", status_code=201)
async def reply_with_code(handle: str, body: WalletReplyIn, console: ConsoleDep) -> dict[str, Any]:
    message = await console.services.agentcard.reply_with_code(
        console.account, handle, to=body.to, chat_id=body.chat_id
    )
    if message is None:
        return {"message": "Dropped: this account blocked the phone", "message_id": None}
    return {"message": "Code sent", "message_id": message.id, "chat_id": message.chat_id}
