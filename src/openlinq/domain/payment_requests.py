"""Payment requests against a simulated Stripe (or Natural) account: no money moves.

A request is ``requested`` until the payer pays (``succeeded``), the partner cancels it
(``canceled``) or its checkout runs out (``expired``, a job at ``expires_at``). While it
is open the payer may be declined (``payment.declined``, still payable) or authorized
(``payment.authorized``, funds held, not yet paid); the API keeps showing ``requested``
(the SDK's status vocabulary) and the list filter finds them by that last attempt.

The simulated Stripe account has a fixed catalogue of prices, coupons and promotion
codes (below), so subscription requests can be tested deterministically.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from openlinq.domain.chats import check_account_line
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.experiences import checkout_session, is_experience
from openlinq.domain.handles import parse_phone
from openlinq.domain.ids import AccountId, MessageId
from openlinq.domain.messaging import request_fingerprint
from openlinq.domain.models import Account
from openlinq.domain.payment_views import payment_event_view
from openlinq.jobs.runner import JobQueue
from openlinq.store.repos import Repos
from openlinq.store.repos.payment_requests import PaymentOnboarding, StoredPaymentRequest
from openlinq.store.unit import Storage

EXPIRE_JOB = "payment_request.expire"
CHECKOUT_TTL = timedelta(hours=24)  # Stripe Checkout's default session lifetime
MIN_AMOUNT = {"usd": 50}
MAX_AMOUNT = 99_999_999  # Stripe's ceiling for one charge, in cents
MAX_METADATA_KEYS = 49
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500
MAX_DESCRIPTION = 1_000
MAX_QUANTITY = 10_000
MAX_TRIAL_DAYS = 730
RESERVED_METADATA_PREFIX = "linq_"
_CUSTOMER_ID = re.compile(r"^cus_[A-Za-z0-9]{1,250}$")

# Wire statuses (the SDK's PaymentRequest.status) and what the list filter also knows.
OPEN = "requested"
SUCCEEDED = "succeeded"
CANCELED = "canceled"
EXPIRED = "expired"
DECLINED = "declined"
AUTHORIZED = "authorized"
PAYER_STATES = (DECLINED, AUTHORIZED)
FILTERS = (OPEN, AUTHORIZED, SUCCEEDED, CANCELED, EXPIRED, DECLINED)


@dataclass(frozen=True, slots=True)
class Price:
    unit_amount: int
    interval: str | None  # None: a one-time price, which a subscription cannot use
    interval_count: int = 1
    active: bool = True


@dataclass(frozen=True, slots=True)
class Coupon:
    name: str
    percent_off: int = 0
    amount_off: int = 0

    def apply(self, amount: int) -> int:
        return max(0, amount - self.amount_off - amount * self.percent_off // 100)


# The simulated connected account's catalogue (docs/differences.md lists it).
PRICES: dict[str, Price] = {
    "price_sim_monthly": Price(1_500, "month"),
    "price_sim_quarterly": Price(4_000, "month", 3),
    "price_sim_yearly": Price(15_000, "year"),
    "price_sim_weekly": Price(500, "week"),
    "price_sim_daily": Price(100, "day"),
    "price_sim_archived": Price(1_500, "month", active=False),
    "price_sim_one_time": Price(2_500, None),
}
COUPONS: dict[str, Coupon] = {
    "SIM25": Coupon("25% off", percent_off=25),
    "SIM5OFF": Coupon("$5 off", amount_off=500),
    "SIMFREE": Coupon("Free first period", percent_off=100),
}
PROMOTION_CODES: dict[str, str] = {"promo_sim_welcome": "SIM25", "promo_sim_free": "SIMFREE"}


def _invalid(message: str) -> LinqError:
    return LinqError(ErrorCode.INVALID_PARAMETER, message)


def _missing(field: str, mode: str) -> LinqError:
    return LinqError(ErrorCode.MISSING_REQUIRED_FIELD, f"{field} is required in {mode} mode")


def _token(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(12)}"


@dataclass(frozen=True, slots=True)
class Checked:
    """A create request that passed every rule: the details to store."""

    details: dict[str, Any]
    rail: str
    from_number: str | None


def check_create(body: dict[str, Any], now: datetime) -> Checked:
    """Every rule on a create body that needs no storage (§5.8)."""
    mode = body.get("mode") or "payment"
    rail = body.get("rail") or "stripe"
    details: dict[str, Any] = {"mode": mode, "rail": rail}
    if mode == "payment":
        details.update(_payment_mode(body))
    else:
        details.update(_subscription_mode(body, now))
    customer = body.get("customer_id")
    if customer is not None and not _CUSTOMER_ID.match(customer):
        raise _invalid("customer_id must be the id of a customer on your account (cus_...)")
    details["customer_id"] = customer
    description = body.get("description")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise _invalid(f"description is at most {MAX_DESCRIPTION} characters")
    details["description"] = description
    details["metadata"] = _metadata(body.get("metadata"))
    from_number = _natural_rail(body, rail, mode)
    details["payer_handle"] = body.get("payer_handle") if rail == "natural" else None
    details["from"] = from_number
    return Checked(details, rail, from_number)


def _payment_mode(body: dict[str, Any]) -> dict[str, Any]:
    for field in ("price_id", "quantity", "discount", "trial_period_days", "trial_end"):
        if body.get(field) is not None:
            raise _invalid(f"{field} is for subscription mode only")
    amount, currency = body.get("amount"), body.get("currency")
    if amount is None:
        raise _missing("amount", "payment")
    if currency is None:
        raise _missing("currency", "payment")
    currency = currency.lower()
    if currency not in MIN_AMOUNT:
        raise _invalid("currency: only usd is supported")
    if amount < MIN_AMOUNT[currency]:
        raise _invalid(f"amount must be at least {MIN_AMOUNT[currency]} ({currency} minor units)")
    if amount > MAX_AMOUNT:
        raise _invalid(f"amount must be at most {MAX_AMOUNT}")
    return {"amount": amount, "currency": currency}


def _subscription_mode(body: dict[str, Any], now: datetime) -> dict[str, Any]:
    for field in ("amount", "currency"):
        if body.get(field) is not None:
            raise _invalid(f"{field} must be omitted in subscription mode (the price sets it)")
    price_id = body.get("price_id")
    if price_id is None:
        raise _missing("price_id", "subscription")
    price = PRICES.get(price_id)
    if price is None or not price.active or price.interval is None:
        raise _invalid(f"price_id {price_id!r} is not an active recurring price on your account")
    quantity = body.get("quantity")
    if quantity is not None and not 1 <= quantity <= MAX_QUANTITY:
        raise _invalid(f"quantity must be between 1 and {MAX_QUANTITY}")
    quantity = quantity or 1
    discount, coupon = _discount(body.get("discount"))
    trial_end = _trial_end(body, now)
    subtotal = price.unit_amount * quantity
    amount = 0 if trial_end is not None else coupon.apply(subtotal) if coupon else subtotal
    return {
        "amount": amount,
        "currency": "usd",
        "price_id": price_id,
        "quantity": quantity,
        "interval": price.interval,
        "interval_count": price.interval_count,
        "discount": discount,
        "trial_end": trial_end.isoformat() if trial_end else None,
    }


def _discount(raw: dict[str, Any] | None) -> tuple[dict[str, Any] | None, Coupon | None]:
    if raw is None:
        return None, None
    coupon_id, promotion = raw.get("coupon"), raw.get("promotion_code")
    if (coupon_id is None) == (promotion is None):
        raise _invalid("discount takes exactly one of coupon or promotion_code")
    if promotion is not None:
        coupon_id = PROMOTION_CODES.get(promotion)
        if coupon_id is None:
            raise _invalid(f"promotion_code {promotion!r} does not exist on your account")
    coupon = COUPONS.get(coupon_id or "")
    if coupon is None:
        raise _invalid(f"coupon {coupon_id!r} does not exist on your account")
    label = raw.get("label") or coupon.name
    return {"coupon": coupon_id, "label": label, "promotion_code": promotion}, coupon


def _trial_end(body: dict[str, Any], now: datetime) -> datetime | None:
    days, end = body.get("trial_period_days"), body.get("trial_end")
    if days is not None and end is not None:
        raise _invalid("trial_period_days and trial_end cannot be combined")
    if days is not None:
        if not 1 <= days <= MAX_TRIAL_DAYS:
            raise _invalid(f"trial_period_days must be between 1 and {MAX_TRIAL_DAYS}")
        return now + timedelta(days=days)
    if end is not None:
        if end <= now:
            raise _invalid("trial_end must be in the future")
        if end > now + timedelta(days=MAX_TRIAL_DAYS):
            raise _invalid(f"trial_end must be within {MAX_TRIAL_DAYS} days")
        return end  # type: ignore[no-any-return]
    return None


def _metadata(raw: dict[str, str] | None) -> dict[str, str] | None:
    if raw is None:
        return None
    if len(raw) > MAX_METADATA_KEYS:
        raise _invalid(f"metadata has at most {MAX_METADATA_KEYS} keys")
    for key, value in raw.items():
        if key.startswith(RESERVED_METADATA_PREFIX):
            raise _invalid(f"metadata keys starting with {RESERVED_METADATA_PREFIX!r} are reserved")
        if not key or len(key) > MAX_METADATA_KEY:
            raise _invalid(f"metadata keys are 1 to {MAX_METADATA_KEY} characters")
        if len(value) > MAX_METADATA_VALUE:
            raise _invalid(f"metadata values are at most {MAX_METADATA_VALUE} characters")
    return dict(raw)


def _natural_rail(body: dict[str, Any], rail: str, mode: str) -> str | None:
    if rail != "natural":
        for field in ("from", "payer_handle"):
            if body.get(field) is not None:
                raise _invalid(f"{field} is for rail natural only")
        return None
    if mode != "payment":
        raise _invalid("rail natural collects one-time payments only")
    if body.get("from") is None:
        raise LinqError(ErrorCode.MISSING_REQUIRED_FIELD, "from is required for rail natural")
    if body.get("payer_handle") is None:
        raise LinqError(
            ErrorCode.MISSING_REQUIRED_FIELD, "payer_handle is required for rail natural"
        )
    parse_phone(body["payer_handle"], "payer_handle")
    return parse_phone(body["from"], "from")


class PaymentRequestService:
    """Create, read, cancel and settle payment requests; expire them on time."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        events: EventLog,
        queue: JobQueue,
        base_url: str,
        *,
        enabled_by_default: bool,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        self.queue = queue
        self.base_url = base_url.rstrip("/")
        self.enabled_by_default = enabled_by_default

    # -- onboarding (the operator's switch) ------------------------------------------

    async def onboarding(self, account_id: AccountId) -> PaymentOnboarding:
        async with self.storage.read() as repos:
            return await self._onboarding(repos, account_id)

    async def _onboarding(self, repos: Repos, account_id: AccountId) -> PaymentOnboarding:
        stored = await repos.payment_requests.onboarding(account_id)
        default = self.enabled_by_default
        return stored or PaymentOnboarding(default, default)

    async def set_onboarding(
        self, account_id: AccountId, *, stripe: bool | None, natural: bool | None
    ) -> PaymentOnboarding:
        """The operator's switch: None leaves a setting as it is."""
        async with self.storage.write() as repos:
            current = await self._onboarding(repos, account_id)
            if stripe is None and natural is None:
                return current  # only shown: the server's default stays in force
            changed = PaymentOnboarding(
                current.stripe_charges_enabled if stripe is None else stripe,
                current.natural_onboarded if natural is None else natural,
            )
            await repos.payment_requests.put_onboarding(account_id, changed, self.clock.now())
        return changed

    # -- the API -----------------------------------------------------------------

    async def create(
        self, account: Account, body: dict[str, Any], idempotency_key: str | None
    ) -> StoredPaymentRequest:
        now = self.clock.now()
        checked = check_create(body, now)
        fingerprint = request_fingerprint(body)
        async with self.storage.write() as repos:
            onboarding = await self._onboarding(repos, account.id)
            if checked.rail == "natural" and not onboarding.natural_onboarded:
                raise LinqError(
                    ErrorCode.FEATURE_NOT_AVAILABLE,
                    "rail natural needs your organization's Natural merchant onboarding",
                )
            if checked.rail == "stripe" and not onboarding.stripe_charges_enabled:
                raise LinqError(
                    ErrorCode.FEATURE_NOT_AVAILABLE,
                    "payment requests need a connected Stripe account with charges enabled",
                )
            if checked.from_number is not None:
                line = await repos.lines.by_number(account.id, checked.from_number)
                check_account_line(line, checked.from_number)
            if idempotency_key is not None:
                await repos.locks.hold(f"payment-request:{account.id}:{idempotency_key}")
                original = await repos.payment_requests.by_idempotency_key(
                    account.id, idempotency_key
                )
                if original is not None:
                    if original.request_hash != fingerprint:
                        raise LinqError(
                            ErrorCode.STATE_CONFLICT,
                            "this Idempotency-Key was already used for a different request",
                            retryable=False,
                        )
                    return original
            request = StoredPaymentRequest(
                id=_token("pr_"),
                account_id=account.id,
                status=OPEN,
                payer_state=None,
                checkout_session=_token("cs_sim_"),
                idempotency_key=idempotency_key,
                request_hash=fingerprint,
                details=_initial_ids(checked),
                expires_at=now + CHECKOUT_TTL,
                paid_at=None,
                created_at=now,
                updated_at=now,
            )
            await repos.payment_requests.add(request)
            await self.queue.schedule(
                repos, EXPIRE_JOB, {"id": request.id}, CHECKOUT_TTL.total_seconds()
            )
        return request

    async def get(self, account: Account, request_id: str) -> StoredPaymentRequest:
        async with self.storage.read() as repos:
            return await _owned(repos, account, request_id)

    async def page(
        self, account: Account, *, status: str | None, offset: int, limit: int
    ) -> tuple[list[StoredPaymentRequest], bool]:
        wire_status, payer_state = (OPEN, status) if status in PAYER_STATES else (status, None)
        async with self.storage.read() as repos:
            rows = await repos.payment_requests.page(
                account.id,
                status=wire_status,
                payer_state=payer_state,
                offset=offset,
                limit=limit + 1,
            )
        return rows[:limit], len(rows) > limit

    async def cancel(self, account: Account, request_id: str) -> StoredPaymentRequest:
        async with self.storage.write() as repos:
            request = await _owned(repos, account, request_id)
            if request.status != OPEN:
                raise LinqError(
                    ErrorCode.STATE_CONFLICT,
                    f"this payment request is {request.status}; only an unpaid one can be canceled",
                    retryable=False,
                )
            return await self._finish(repos, request, CANCELED)

    # -- what the payer (the simulated phone) and time do --------------------------------

    async def payer_acts(
        self,
        account: Account,
        payer: str,
        outcome: str,
        *,
        checkout_url: str | None = None,
        message_id: str | None = None,
    ) -> StoredPaymentRequest:
        """A simulated phone at checkout: ``pay``, ``decline`` (the card is refused; the
        request stays payable) or ``authorize`` (funds held, not yet paid). The checkout
        is named by its link or by the agentpay card that carries it."""
        async with self.storage.write() as repos:
            if message_id is not None:
                checkout_url = await _card_checkout(repos, account, message_id)
            session = checkout_session(checkout_url or "")
            request = await repos.payment_requests.by_session(session) if session else None
            if request is None or request.account_id != account.id:
                raise _no_checkout()
            billed = request.details.get("payer_handle")
            if billed is not None and billed != payer:
                raise LinqError(ErrorCode.ACCESS_DENIED, f"this request bills {billed}")
            return await self._settle(repos, request, outcome)

    async def checkout(self, session: str) -> StoredPaymentRequest:
        """The checkout page's request: its link is the payer's only credential."""
        async with self.storage.read() as repos:
            request = await repos.payment_requests.by_session(session)
        if request is None:
            raise _no_checkout()
        return request

    async def pay_at_checkout(self, session: str, outcome: str) -> StoredPaymentRequest:
        async with self.storage.write() as repos:
            request = await repos.payment_requests.by_session(session)
            if request is None:
                raise _no_checkout()
            return await self._settle(repos, request, outcome)

    async def _settle(
        self, repos: Repos, request: StoredPaymentRequest, outcome: str
    ) -> StoredPaymentRequest:
        if request.status != OPEN:
            raise LinqError(
                ErrorCode.STATE_CONFLICT,
                f"this payment request is {request.status}",
                retryable=False,
            )
        if outcome == "pay":
            return await self._finish(repos, request, SUCCEEDED)
        state = DECLINED if outcome == "decline" else AUTHORIZED
        now = self.clock.now()
        changed = replace(request, payer_state=state, updated_at=now)
        await repos.payment_requests.save(changed)
        await self._record(repos, changed, state, now)
        return changed

    async def run_expiry_job(self, payload: dict[str, Any]) -> None:
        async with self.storage.write() as repos:
            request = await repos.payment_requests.any_account(payload["id"])
            if request is None or request.status != OPEN:
                return  # paid or canceled in time
            await self._finish(repos, request, EXPIRED)

    async def _finish(
        self, repos: Repos, request: StoredPaymentRequest, status: str
    ) -> StoredPaymentRequest:
        now = self.clock.now()
        details = dict(request.details)
        if status == SUCCEEDED:
            details.update(_settlement_ids(details))
        changed = replace(
            request,
            status=status,
            payer_state=None,
            details=details,
            paid_at=now if status == SUCCEEDED else None,
            updated_at=now,
        )
        await repos.payment_requests.save(changed)
        await self._record(repos, changed, status, now)
        return changed

    async def _record(
        self, repos: Repos, request: StoredPaymentRequest, what: str, now: datetime
    ) -> None:
        await self.events.record(
            repos,
            request.account_id,
            f"payment.{what}",
            payment_event_view(request, what, self.base_url),
            phone_number=request.details.get("from"),
            now=now,
        )


async def _owned(repos: Repos, account: Account, request_id: str) -> StoredPaymentRequest:
    request = await repos.payment_requests.get(account.id, request_id)
    if request is None:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "payment request not found", http_status=404)
    return request


def _no_checkout() -> LinqError:
    return LinqError(ErrorCode.INVALID_PARAMETER, "no such checkout", http_status=404)


async def _card_checkout(repos: Repos, account: Account, message_id: str) -> str:
    message = await repos.messages.get(account.id, MessageId(message_id))
    cards = [p for p in message.parts if is_experience(p)] if message else []
    if not cards or cards[0]["experience"]["name"] != "agentpay":
        raise LinqError(ErrorCode.INVALID_PARAMETER, "that message is not an agentpay card")
    return str(cards[0]["url"])


def _initial_ids(checked: Checked) -> dict[str, Any]:
    """The simulated provider's objects created with the checkout session."""
    details = dict(checked.details)
    if checked.rail == "natural":
        details["natural"] = {"payment_request_id": _token("prq_"), "transaction_id": None}
        details["stripe"] = None
        return details
    customer = details["customer_id"]
    subscription = None
    if details["mode"] == "subscription":
        customer = customer or _token("cus_sim")
        subscription = _token("sub_sim")
    details["stripe"] = (
        {"customer_id": customer, "payment_intent_id": None, "subscription_id": subscription}
        if customer or subscription
        else None
    )
    details["natural"] = None
    return details


def _settlement_ids(details: dict[str, Any]) -> dict[str, Any]:
    if details["rail"] == "natural":
        return {"natural": {**details["natural"], "transaction_id": _token("txn_")}}
    stripe = details.get("stripe") or {"customer_id": None, "subscription_id": None}
    return {"stripe": {**stripe, "payment_intent_id": _token("pi_sim")}}
