"""Agent payments: an agent pays on a customer's behalf with a single-use virtual card.

Three layers, as on the platform. The organisation onboards with a provider
(``agentcard``: onboarding → ready | disabled); nothing else works until it is
``ready`` (403 / 2011, the contract's "account must be enabled" case). Each customer
grants the account access once, through an OTP + consent ceremony (pending →
connected → revoked). Each purchase then advances a payment: needs_connection |
connecting | awaiting_user_action (attach a card, approve with a passkey) → ready
(a card is minted) → authorized → succeeded | declined | canceled | expired.

The provider is simulated (``delivery/simulator/agentcard.py`` plays the customer's
phone, the hosted pages and the merchant); no money moves. Expiry is read from the
clock when a record is looked at, so it needs no job.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from openlinq.domain.agentpay_views import connection_event_data
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.handles import parse_handle
from openlinq.domain.ids import AccountId, new_id
from openlinq.domain.messaging import request_fingerprint
from openlinq.domain.models import Account
from openlinq.store.repos import Repos
from openlinq.store.repos.agentpay import (
    AgentPayment,
    HandleConnection,
    ProviderRecord,
    Wallet,
)
from openlinq.store.unit import Storage

PROVIDERS = frozenset({"agentcard"})
PROVIDER = "agentcard"  # the provider payments and connections go through

CODE_TTL = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
ATTACH_TTL = timedelta(hours=48)  # "stays valid for about 48 hours"
APPROVAL_TTL = timedelta(minutes=15)
CARD_TTL = timedelta(minutes=30)  # a single-use card not charged in time lapses
USER_TOKEN_TTL = timedelta(minutes=5)

MAX_AMOUNT_CENTS = 99_999_999
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500
MAX_DESCRIPTION = 1000
MAX_MERCHANT_NAME = 200
MAX_URL = 2048
_CURRENCY = re.compile(r"[A-Za-z]{3}")

# Stored stages beyond the wire's statuses: the customer still has to act (attach,
# approval) or has approved and the agent has not collected the card yet (approved).
_AWAITING = frozenset({"attach", "approval", "approved"})
CANCELABLE = frozenset({"ready", "authorized"})


def require_provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            f"unknown payment provider {provider!r}; this server offers: agentcard",
            http_status=404,
        )
    return provider


def check_url(value: str, field: str) -> str:
    """An absolute http(s) URL with a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if (
        parts is None
        or len(value) > MAX_URL
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() or ord(c) < 32 for c in value)
    ):
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"{field} must be an absolute http(s) URL")
    return value


async def lock_handle(repos: Repos, account_id: AccountId, handle: str) -> None:
    """Writers of one customer's connection or wallet run one after another (PostgreSQL)."""
    await repos.locks.hold(f"agentpay:{account_id}:{handle}")


async def lock_provider(repos: Repos, account_id: AccountId) -> None:
    await repos.locks.hold(f"agentpay-provider:{account_id}")


async def lock_payment(repos: Repos, payment_id: str) -> None:
    """A payment's stage is read, checked and written under this lock."""
    await repos.locks.hold(f"agentpay-payment:{payment_id}")


def token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- state, read against the clock -------------------------------------------------------


def connection_status(connection: HandleConnection | None, now: datetime) -> str:
    """The wire status; a ceremony whose code ran out is no connection at all."""
    if connection is None:
        return "not_connected"
    if connection.status == "pending" and not _ceremony_open(connection, now):
        return "revoked" if connection.connected_at else "not_connected"
    return connection.status


def _ceremony_open(connection: HandleConnection, now: datetime) -> bool:
    return (
        connection.status == "pending"
        and connection.code_expires_at is not None
        and now < connection.code_expires_at
        and connection.attempts < MAX_CODE_ATTEMPTS
    )


def _voided() -> LinqError:
    return LinqError(
        ErrorCode.STATE_CONFLICT,
        f"{MAX_CODE_ATTEMPTS} wrong codes: call connect again for a fresh one",
    )


def _open_ceremony(
    current: HandleConnection | None, handle: str, connect_id: str, now: datetime
) -> HandleConnection:
    """The ceremony a verify may complete: pending, this connect_id, a code still valid."""
    if current is None or current.status != "pending":
        raise LinqError(
            ErrorCode.STATE_CONFLICT, f"no connection is pending for {handle}: call connect first"
        )
    if not hmac.compare_digest(connect_id.encode(), (current.connect_id or "").encode()):
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            f"connect_id is not the one the latest connect returned for {handle}",
        )
    if current.attempts >= MAX_CODE_ATTEMPTS:
        raise _voided()
    if not _ceremony_open(current, now):
        raise LinqError(
            ErrorCode.STATE_CONFLICT,
            "the code has expired: call connect again for a fresh connect_id",
        )
    return current


def payment_stage(payment: AgentPayment, now: datetime) -> str:
    """The stored stage, or ``expired`` once its deadline passed."""
    deadline = None
    if payment.stage in _AWAITING:
        deadline = payment.action_expires_at
    elif payment.stage == "ready":
        deadline = payment.card_expires_at
    if deadline is not None and now >= deadline:
        return "expired"
    return payment.stage


def wire_status(stage: str) -> str:
    return "awaiting_user_action" if stage in _AWAITING else stage


def default_wallet(account_id: AccountId, handle: str) -> Wallet:
    """A customer the simulator knows nothing about: no card on file yet, passkey on."""
    return Wallet(account_id, handle, card_on_file=False, approval_required=True)


@dataclass(frozen=True, slots=True)
class PaymentInput:
    handle: str
    amount_cents: int
    currency: str
    description: str | None
    merchant: dict[str, str] | None
    metadata: dict[str, str] | None

    def fingerprint(self) -> str:
        return request_fingerprint(
            {
                "handle": self.handle,
                "amount_cents": self.amount_cents,
                "currency": self.currency,
                "description": self.description,
                "merchant": self.merchant,
                "metadata": self.metadata,
            }
        )


def payment_input(
    raw_handle: str,
    amount_cents: int,
    currency: str,
    description: str | None,
    merchant: dict[str, str | None] | None,
    metadata: dict[str, str] | None,
) -> PaymentInput:
    """Every field checked before anything is written."""
    handle = parse_handle(raw_handle, "handle").value
    if not 1 <= amount_cents <= MAX_AMOUNT_CENTS:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            f"amount_cents must be between 1 and {MAX_AMOUNT_CENTS:,}",
        )
    if not _CURRENCY.fullmatch(currency):
        raise LinqError(ErrorCode.INVALID_PARAMETER, "currency must be a 3-letter ISO 4217 code")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER, f"description is longer than {MAX_DESCRIPTION} characters"
        )
    given_merchant = {k: v for k, v in (merchant or {}).items() if v is not None}
    if len(given_merchant.get("name", "")) > MAX_MERCHANT_NAME:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            f"merchant.name is longer than {MAX_MERCHANT_NAME} characters",
        )
    if "url" in given_merchant:
        check_url(given_merchant["url"], "merchant.url")
    if metadata is not None:
        _check_metadata(metadata)
    return PaymentInput(
        handle,
        amount_cents,
        currency.lower(),
        description,
        given_merchant if merchant is not None else None,
        metadata,
    )


def _check_metadata(metadata: dict[str, str]) -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER, f"metadata has more than {MAX_METADATA_KEYS} keys"
        )
    for key, value in metadata.items():
        if not 1 <= len(key) <= MAX_METADATA_KEY:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER,
                f"metadata keys are 1 to {MAX_METADATA_KEY} characters",
            )
        if len(value) > MAX_METADATA_VALUE:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER,
                f"metadata value of {key!r} is longer than {MAX_METADATA_VALUE} characters",
            )


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionResult:
    handle: str
    status: str
    connect_id: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """A payment as the agent sees it: ``record`` is None before anything is stored."""

    status: str
    request: PaymentInput
    record: AgentPayment | None = None
    attach_url: str | None = None
    approval_url: str | None = None


@dataclass(frozen=True, slots=True)
class Handoff:
    provider: str
    card_ref: str
    fetch_url: str
    user_token: str


class AgentPayService:
    """The partner API of agent payments (/v3/payments/...)."""

    def __init__(self, storage: Storage, clock: Clock, events: EventLog, base_url: str) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        self.base_url = base_url.rstrip("/")

    # -- providers -----------------------------------------------------------------------

    async def provider_status(self, account: Account, provider: str) -> str:
        require_provider(provider)
        async with self.storage.read() as repos:
            record = await repos.agentpay.provider(account.id, provider)
        # Never connected: nothing is enabled, which the contract's enum calls disabled.
        return record.status if record else "disabled"

    async def connect_provider(
        self, account: Account, provider: str, return_url: str
    ) -> tuple[str | None, str | None, str]:
        """(hosted_url, session_id, status); a ready provider needs no new session."""
        require_provider(provider)
        check_url(return_url, "return_url")
        async with self.storage.write() as repos:
            await lock_provider(repos, account.id)
            current = await repos.agentpay.provider(account.id, provider)
            if current is not None and current.status == "ready":
                return None, None, "ready"
            session_id = token("ses")
            await repos.agentpay.save_provider(
                ProviderRecord(
                    account.id, provider, "onboarding", session_id, return_url, self.clock.now()
                )
            )
        return self.onboarding_url(provider, session_id), session_id, "onboarding"

    def onboarding_url(self, provider: str, session_id: str) -> str:
        return f"{self.base_url}/sim/v1/providers/{provider}/onboarding/{session_id}"

    async def _require_ready(self, repos: Repos, account_id: AccountId) -> None:
        record = await repos.agentpay.provider(account_id, PROVIDER)
        if record is None or record.status != "ready":
            raise LinqError(
                ErrorCode.FEATURE_NOT_AVAILABLE,
                "agent payments need the agentcard provider connected and ready: "
                "POST /v3/payments/providers/agentcard/connect, then authorize it",
            )

    # -- handle connections ---------------------------------------------------------------

    async def connect_handle(self, account: Account, raw_handle: str) -> ConnectionResult:
        handle = parse_handle(raw_handle, "handle").value
        now = self.clock.now()
        async with self.storage.write() as repos:
            await self._require_ready(repos, account.id)
            await lock_handle(repos, account.id, handle)
            current = await repos.agentpay.connection(account.id, handle)
            if current is not None and current.status == "connected":
                return ConnectionResult(handle, "connected")
            # A new ceremony: the provider texts the customer a fresh code (the simulated
            # phone shows it in its wallet); an earlier connect_id stops working.
            ceremony = HandleConnection(
                account_id=account.id,
                handle=handle,
                id=current.id if current else new_id(),
                status="pending",
                connect_id=token("cxn"),
                code=f"{secrets.randbelow(1_000_000):06d}",
                code_expires_at=now + CODE_TTL,
                code_sent_at=now,
                attempts=0,
                connected_at=current.connected_at if current else None,
                created_at=current.created_at if current else now,
                updated_at=now,
            )
            await repos.agentpay.save_connection(ceremony)
        return ConnectionResult(handle, "pending", ceremony.connect_id)

    async def verify_handle(
        self, account: Account, raw_handle: str, code: str, connect_id: str
    ) -> ConnectionResult:
        handle = parse_handle(raw_handle, "handle").value
        now = self.clock.now()
        refusal: LinqError | None = None
        async with self.storage.write() as repos:
            await self._require_ready(repos, account.id)
            await lock_handle(repos, account.id, handle)
            current = _open_ceremony(
                await repos.agentpay.connection(account.id, handle), handle, connect_id, now
            )
            if not hmac.compare_digest(code.strip().encode(), (current.code or "").encode()):
                attempts = current.attempts + 1
                # The wrong guess is counted (committed) before the refusal is raised.
                await repos.agentpay.save_connection(
                    replace(current, attempts=attempts, updated_at=now)
                )
                refusal = (
                    LinqError(ErrorCode.INVALID_PARAMETER, "the code is not right")
                    if attempts < MAX_CODE_ATTEMPTS
                    else _voided()
                )
            else:
                connected = replace(
                    current,
                    status="connected",
                    connect_id=None,
                    code=None,
                    code_expires_at=None,
                    connected_at=now,
                    updated_at=now,
                )
                await repos.agentpay.save_connection(connected)
                await self._connection_event(repos, connected, "connection.created", now)
        if refusal is not None:
            raise refusal
        return ConnectionResult(handle, "connected")

    async def connection(self, account: Account, raw_handle: str) -> ConnectionResult:
        handle = parse_handle(raw_handle, "handle").value
        async with self.storage.read() as repos:
            current = await repos.agentpay.connection(account.id, handle)
        return ConnectionResult(handle, connection_status(current, self.clock.now()))

    async def revoke(self, account: Account, raw_handle: str) -> ConnectionResult:
        handle = parse_handle(raw_handle, "handle").value
        now = self.clock.now()
        async with self.storage.write() as repos:
            await lock_handle(repos, account.id, handle)
            current = await repos.agentpay.connection(account.id, handle)
            if current is None or current.status != "connected":
                raise LinqError(
                    ErrorCode.STATE_CONFLICT,
                    f"{handle} has not granted this account access: nothing to revoke",
                    http_status=404,
                )
            revoked = replace(current, status="revoked", updated_at=now)
            await repos.agentpay.save_connection(revoked)
            await self._connection_event(repos, revoked, "connection.revoked", now)
        return ConnectionResult(handle, "revoked")

    async def _connection_event(
        self, repos: Repos, connection: HandleConnection, event_type: str, now: datetime
    ) -> None:
        await self.events.record(
            repos,
            connection.account_id,
            event_type,
            connection_event_data(connection, PROVIDER, now),
            phone_number=None,
            now=now,
        )

    # -- payments -------------------------------------------------------------------------

    async def create_payment(
        self, account: Account, request: PaymentInput, idempotency_key: str | None
    ) -> PaymentResult:
        now = self.clock.now()
        fingerprint = request.fingerprint()
        async with self.storage.write() as repos:
            await self._require_ready(repos, account.id)
            if idempotency_key is not None:
                await repos.locks.hold(f"agentpay-key:{account.id}:{idempotency_key}")
                earlier = await repos.agentpay.payment_by_key(account.id, idempotency_key)
                if earlier is not None:
                    if earlier.request_hash != fingerprint:
                        raise LinqError(
                            ErrorCode.STATE_CONFLICT,
                            "this Idempotency-Key was used for a different payment",
                        )
                    return await self._advance(repos, earlier, request, now)
            connection = await repos.agentpay.connection(account.id, request.handle)
            status = connection_status(connection, now)
            if status != "connected":
                # Nothing is stored: connect the handle, then create again.
                return PaymentResult(
                    "connecting" if status == "pending" else "needs_connection", request
                )
            wallet = await repos.agentpay.wallet(account.id, request.handle)
            payment = _new_payment(account.id, request, idempotency_key, fingerprint, now)
            payment = _next_step(payment, wallet or default_wallet(account.id, request.handle), now)
            await repos.agentpay.insert_payment(payment)
        return self._result(payment, request, now)

    async def _advance(
        self, repos: Repos, payment: AgentPayment, request: PaymentInput, now: datetime
    ) -> PaymentResult:
        """A repeated create: collect what the customer did since."""
        await lock_payment(repos, payment.id)
        # Read again under the lock: the customer may have acted since the first read.
        payment = await repos.agentpay.payment(payment.account_id, payment.id) or payment
        stage = payment_stage(payment, now)
        if stage in _AWAITING:
            connection = await repos.agentpay.connection(payment.account_id, payment.handle)
            if connection_status(connection, now) != "connected":
                # The grant was revoked meanwhile: nothing moves until it is back.
                return PaymentResult("needs_connection", request, payment)
        if stage in ("attach", "approved"):
            wallet = await repos.agentpay.wallet(payment.account_id, payment.handle)
            moved = _next_step(
                payment, wallet or default_wallet(payment.account_id, payment.handle), now
            )
            if moved != payment:
                await repos.agentpay.update_payment(
                    payment.id,
                    stage=moved.stage,
                    action_token=moved.action_token,
                    action_expires_at=moved.action_expires_at,
                    card_ref=moved.card_ref,
                    card_expires_at=moved.card_expires_at,
                    updated_at=now,
                )
                payment = moved
        return self._result(payment, request, now)

    def _result(self, payment: AgentPayment, request: PaymentInput, now: datetime) -> PaymentResult:
        stage = payment_stage(payment, now)
        attach_url = approval_url = None
        if stage == "attach":
            attach_url = self.action_url("attach", payment.action_token or "")
        elif stage in ("approval", "approved"):
            approval_url = self.action_url("approve", payment.action_token or "")
        return PaymentResult(wire_status(stage), request, payment, attach_url, approval_url)

    def action_url(self, kind: str, action_token: str) -> str:
        return f"{self.base_url}/sim/v1/providers/{PROVIDER}/{kind}/{action_token}"

    async def _minted(
        self, repos: Repos, account: Account, payment_id: str, *, lock: bool = False
    ) -> AgentPayment:
        if lock:
            await lock_payment(repos, payment_id)
        payment = await repos.agentpay.payment(account.id, payment_id)
        if payment is None or payment.card_ref is None:
            # Only a minted payment has an id the agent was shown.
            raise LinqError(ErrorCode.INVALID_PARAMETER, "payment not found", http_status=404)
        return payment

    async def payment(self, account: Account, payment_id: str) -> PaymentResult:
        async with self.storage.read() as repos:
            payment = await self._minted(repos, account, payment_id)
        return self._result(payment, request_of(payment), self.clock.now())

    async def cancel(self, account: Account, payment_id: str) -> PaymentResult:
        now = self.clock.now()
        async with self.storage.write() as repos:
            payment = await self._minted(repos, account, payment_id, lock=True)
            stage = payment_stage(payment, now)
            if stage not in CANCELABLE:
                raise LinqError(
                    ErrorCode.STATE_CONFLICT,
                    f"the payment is {stage}: only a ready or authorized payment can be canceled",
                )
            # Closing the card: its handoff token stops working with it.
            payment = replace(payment, stage="canceled", user_token_hash=None, updated_at=now)
            await repos.agentpay.update_payment(
                payment.id, stage="canceled", user_token_hash=None, updated_at=now
            )
        return self._result(payment, request_of(payment), now)

    async def credentials(self, account: Account, payment_id: str) -> Handoff:
        now = self.clock.now()
        async with self.storage.write() as repos:
            payment = await self._minted(repos, account, payment_id, lock=True)
            stage = payment_stage(payment, now)
            if stage != "ready":
                raise LinqError(
                    ErrorCode.STATE_CONFLICT,
                    f"the payment is {stage}: card credentials are handed off while it is ready",
                )
            user_token = token("utok")
            await repos.agentpay.update_payment(
                payment.id,
                user_token_hash=digest(user_token),
                user_token_expires_at=now + USER_TOKEN_TTL,
                updated_at=now,
            )
        card_ref = payment.card_ref or ""
        return Handoff(PROVIDER, card_ref, self.card_url(card_ref), user_token)

    def card_url(self, card_ref: str) -> str:
        return f"{self.base_url}/sim/v1/providers/{PROVIDER}/cards/{card_ref}"


def request_of(payment: AgentPayment) -> PaymentInput:
    return PaymentInput(
        payment.handle,
        payment.amount_cents,
        payment.currency,
        payment.description,
        payment.merchant,
        payment.metadata,
    )


def _new_payment(
    account_id: AccountId,
    request: PaymentInput,
    idempotency_key: str | None,
    fingerprint: str,
    now: datetime,
) -> AgentPayment:
    """A payment at its first stage, before the customer's wallet is looked at."""
    return AgentPayment(
        id=new_id(),
        account_id=account_id,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        handle=request.handle,
        amount_cents=request.amount_cents,
        currency=request.currency,
        description=request.description,
        merchant=request.merchant,
        metadata=request.metadata,
        stage="attach",
        action_token=None,
        action_expires_at=None,
        card_ref=None,
        card_expires_at=None,
        user_token_hash=None,
        user_token_expires_at=None,
        created_at=now,
        updated_at=now,
    )


def _next_step(payment: AgentPayment, wallet: Wallet, now: datetime) -> AgentPayment:
    """Where a payment waiting on the customer goes, given their wallet now."""
    if payment.stage == "attach" and payment.action_token is None and not wallet.card_on_file:
        return replace(payment, action_token=token("act"), action_expires_at=now + ATTACH_TTL)
    if payment.stage == "attach" and wallet.card_on_file and wallet.approval_required:
        return replace(
            payment,
            stage="approval",
            action_token=token("act"),
            action_expires_at=now + APPROVAL_TTL,
        )
    if (payment.stage == "attach" and wallet.card_on_file) or payment.stage == "approved":
        return replace(
            payment,
            stage="ready",
            action_token=None,
            action_expires_at=None,
            card_ref=token("card"),
            card_expires_at=now + CARD_TTL,
        )
    return payment
