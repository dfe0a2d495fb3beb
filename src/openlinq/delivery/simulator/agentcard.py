"""The simulated ``agentcard`` provider: the other side of agent payments.

It plays what the platform leaves to the provider and the customer: the admin's
onboarding page (authorize or decline), the customer's phone (the OTP message, a
card on file, passkey approvals: approve, decline or let them expire), the hosted
attach and approval pages, the merchant charging a minted card, and the card fetch
with a handoff token (a test card number; no money moves).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from openlinq.delivery.simulator.control import SimulatorControl
from openlinq.domain.agentpay import (
    AgentPayService,
    connection_status,
    default_wallet,
    digest,
    lock_handle,
    lock_payment,
    lock_provider,
    payment_stage,
    require_provider,
)
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.handles import parse_handle
from openlinq.domain.models import Account, Message
from openlinq.domain.parts import build_content
from openlinq.store.repos.agentpay import AgentPayment, ProviderRecord, Wallet
from openlinq.store.unit import Storage

PROVIDER_STATUSES = ("onboarding", "ready", "disabled")
# What a merchant does with a minted card: (from stages, to stage).
CHARGES: dict[str, tuple[frozenset[str], str]] = {
    "authorize": (frozenset({"ready"}), "authorized"),
    "capture": (frozenset({"ready", "authorized"}), "succeeded"),
    "decline": (frozenset({"ready", "authorized"}), "declined"),
}
TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "cvc": "123", "brand": "visa"}


@dataclass(frozen=True, slots=True)
class CodeMessage:
    """The provider's text carrying the one-time code, as the phone shows it."""

    sender: str
    text: str
    code: str
    sent_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PendingAction:
    action_id: str
    kind: str  # attach_card | approve
    url: str
    payment: AgentPayment
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class WalletView:
    handle: str
    card_on_file: bool
    approval_required: bool
    connection_status: str
    messages: list[CodeMessage]
    actions: list[PendingAction]


class SimulatedAgentcard:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        payments: AgentPayService,
        simulator: SimulatorControl,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.payments = payments
        self.simulator = simulator

    # -- the organisation's onboarding -----------------------------------------------------

    async def set_provider_status(self, account: Account, provider: str, status: str) -> str:
        """The per-account switch: the operator (or a test) enables or disables a provider."""
        require_provider(provider)
        if status not in PROVIDER_STATUSES:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER, f"status must be one of {', '.join(PROVIDER_STATUSES)}"
            )
        async with self.storage.write() as repos:
            await lock_provider(repos, account.id)
            current = await repos.agentpay.provider(account.id, provider)
            await repos.agentpay.save_provider(
                ProviderRecord(
                    account.id,
                    provider,
                    status,
                    current.session_id if current else None,
                    current.return_url if current else None,
                    self.clock.now(),
                )
            )
        return status

    async def onboarding(self, provider: str, session_id: str) -> ProviderRecord:
        require_provider(provider)
        async with self.storage.read() as repos:
            record = await repos.agentpay.provider_by_session(session_id)
        if record is None or record.provider != provider:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER, "unknown onboarding session", http_status=404
            )
        return record

    async def finish_onboarding(self, provider: str, session_id: str, authorize: bool) -> str:
        """The admin authorizes (ready) or declines (disabled); returns where to send them."""
        record = await self.onboarding(provider, session_id)
        if record.status != "onboarding":
            raise LinqError(
                ErrorCode.STATE_CONFLICT, f"this onboarding session is over ({record.status})"
            )
        status = "ready" if authorize else "disabled"
        async with self.storage.write() as repos:
            await lock_provider(repos, record.account_id)
            current = await repos.agentpay.provider(record.account_id, provider)
            if (
                current is None
                or current.session_id != session_id
                or current.status != "onboarding"
            ):
                raise LinqError(ErrorCode.STATE_CONFLICT, "this onboarding session is over")
            await repos.agentpay.save_provider(
                replace(current, status=status, updated_at=self.clock.now())
            )
        return _with_query(record.return_url or "", session_id=session_id, status=status)

    # -- the customer's phone --------------------------------------------------------------

    async def wallet(self, account: Account, raw_handle: str) -> WalletView:
        handle = parse_handle(raw_handle, "handle").value
        now = self.clock.now()
        async with self.storage.read() as repos:
            wallet = await repos.agentpay.wallet(account.id, handle)
            connection = await repos.agentpay.connection(account.id, handle)
            payments = await repos.agentpay.payments_of_handle(account.id, handle)
        wallet = wallet or default_wallet(account.id, handle)
        messages = []
        if connection is not None and connection.code and connection.code_sent_at:
            messages.append(
                CodeMessage(
                    "agentcard",
                    f"agentcard: {connection.code} is your code to let an agent pay for you. "
                    "Reply with it in your conversation to approve.",
                    connection.code,
                    connection.code_sent_at,
                    connection.code_expires_at or connection.code_sent_at,
                )
            )
        actions = [
            PendingAction(
                p.action_token or "",
                "attach_card" if stage == "attach" else "approve",
                self.payments.action_url(
                    "attach" if stage == "attach" else "approve", p.action_token or ""
                ),
                p,
                p.action_expires_at,
            )
            for p in payments
            if (stage := payment_stage(p, now)) in ("attach", "approval")
            and not (stage == "attach" and wallet.card_on_file)
        ]
        return WalletView(
            handle,
            wallet.card_on_file,
            wallet.approval_required,
            connection_status(connection, now),
            messages,
            actions,
        )

    async def reply_with_code(
        self, account: Account, raw_handle: str, *, to: str | None, chat_id: str | None
    ) -> Message | None:
        """The customer texts the provider's code into your conversation, as people do: the
        agent hears it as ``message.received`` and calls verify with it (None: the account
        blocked the customer, so the text was dropped)."""
        view = await self.wallet(account, raw_handle)
        if view.connection_status != "pending" or not view.messages:
            raise LinqError(
                ErrorCode.STATE_CONFLICT, f"{view.handle} has no code waiting: connect it first"
            )
        content = build_content({"parts": [{"type": "text", "value": view.messages[-1].code}]})
        return await self.simulator.send_message(
            account, view.handle, to=to, chat_id=chat_id, content=content, reply_to=None
        )

    async def configure_wallet(
        self,
        account: Account,
        raw_handle: str,
        *,
        card_on_file: bool | None,
        approval_required: bool | None,
    ) -> WalletView:
        handle = parse_handle(raw_handle, "handle").value
        async with self.storage.write() as repos:
            await lock_handle(repos, account.id, handle)
            wallet = await repos.agentpay.wallet(account.id, handle) or default_wallet(
                account.id, handle
            )
            await repos.agentpay.save_wallet(
                Wallet(
                    account.id,
                    handle,
                    wallet.card_on_file if card_on_file is None else card_on_file,
                    wallet.approval_required if approval_required is None else approval_required,
                )
            )
        return await self.wallet(account, handle)

    async def act(self, account: Account, raw_handle: str, action_id: str, accept: bool) -> str:
        """The phone accepts or declines a pending action; returns the payment's new stage."""
        handle = parse_handle(raw_handle, "handle").value
        async with self.storage.read() as repos:
            payment = await repos.agentpay.payment_by_token(account.id, action_id)
        if payment is None or payment.handle != handle:
            raise LinqError(ErrorCode.INVALID_PARAMETER, "no such action", http_status=404)
        return await self._decide(payment, accept)

    async def page(self, action_id: str) -> tuple[AgentPayment, str]:
        """A hosted attach or approval page (opened without an API key: the token is the key)."""
        async with self.storage.read() as repos:
            payment = await repos.agentpay.payment_by_any_token(action_id)
        if payment is None:
            raise LinqError(ErrorCode.INVALID_PARAMETER, "no such page", http_status=404)
        return payment, payment_stage(payment, self.clock.now())

    async def decide_on_page(self, action_id: str, accept: bool) -> str:
        payment, _ = await self.page(action_id)
        return await self._decide(payment, accept)

    async def _decide(self, payment: AgentPayment, accept: bool) -> str:
        now = self.clock.now()
        async with self.storage.write() as repos:
            await lock_handle(repos, payment.account_id, payment.handle)  # the wallet, below
            await lock_payment(repos, payment.id)
            current = await repos.agentpay.payment(payment.account_id, payment.id)
            stage = payment_stage(current, now) if current else "expired"
            if current is None or stage not in ("attach", "approval"):
                raise LinqError(
                    ErrorCode.STATE_CONFLICT,
                    f"this action is no longer open (the payment is {stage})",
                )
            if not accept:
                await repos.agentpay.update_payment(
                    current.id, stage="declined", action_token=None, updated_at=now
                )
                return "declined"
            if stage == "attach":
                wallet = await repos.agentpay.wallet(
                    current.account_id,
                    current.handle,
                ) or default_wallet(current.account_id, current.handle)
                await repos.agentpay.save_wallet(replace(wallet, card_on_file=True))
                return "attach"  # the agent's next create moves it on
            await repos.agentpay.update_payment(current.id, stage="approved", updated_at=now)
            return "approved"

    # -- the merchant and the card ---------------------------------------------------------

    async def charge(self, account: Account, payment_id: str, outcome: str) -> str:
        if outcome not in CHARGES:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER, f"outcome must be one of {', '.join(CHARGES)}"
            )
        allowed, target = CHARGES[outcome]
        now = self.clock.now()
        async with self.storage.write() as repos:
            await lock_payment(repos, payment_id)
            payment = await repos.agentpay.payment(account.id, payment_id)
            if payment is None or payment.card_ref is None:
                raise LinqError(ErrorCode.INVALID_PARAMETER, "payment not found", http_status=404)
            stage = payment_stage(payment, now)
            if stage not in allowed:
                raise LinqError(
                    ErrorCode.STATE_CONFLICT, f"the card cannot be charged: the payment is {stage}"
                )
            await repos.agentpay.update_payment(payment.id, stage=target, updated_at=now)
        return target

    async def fetch_card(self, card_ref: str, user_token: str) -> dict[str, object]:
        """The provider hands the card to a valid, unexpired handoff token, only while usable."""
        now = self.clock.now()
        async with self.storage.read() as repos:
            payment = await repos.agentpay.payment_by_card(card_ref)
        valid = (
            payment is not None
            and payment.user_token_hash is not None
            and payment.user_token_expires_at is not None
            and now < payment.user_token_expires_at
            and hmac.compare_digest(payment.user_token_hash, digest(user_token))
            and payment_stage(payment, now) in ("ready", "authorized")
        )
        if not valid or payment is None:
            raise LinqError(ErrorCode.ACCESS_DENIED, "the handoff token is not valid for this card")
        expires = payment.card_expires_at or now
        return {
            "card_ref": card_ref,
            **TEST_CARD,
            "exp_year": expires.year + 3,
            "amount_cents": payment.amount_cents,
            "currency": payment.currency,
        }


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))
