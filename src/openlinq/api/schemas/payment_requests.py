"""Wire shapes of /v3/payment_requests and /v3/experiences (§5.7, §5.8)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, StrictInt, StrictStr

from openlinq.api.schemas.common import RequestModel, UtcMoment, WireModel

PaymentStatus = Literal["requested", "succeeded", "canceled", "expired"]
PaymentFilter = Literal["requested", "authorized", "succeeded", "canceled", "expired", "declined"]


class DiscountIn(RequestModel):
    coupon: StrictStr | None = Field(default=None, max_length=255)
    label: StrictStr | None = Field(default=None, max_length=255)
    promotion_code: StrictStr | None = Field(default=None, max_length=255)


class PaymentRequestIn(RequestModel):
    amount: StrictInt | None = None
    currency: StrictStr | None = Field(default=None, max_length=3)
    customer_id: StrictStr | None = Field(default=None, max_length=255)
    description: StrictStr | None = None
    discount: DiscountIn | None = None
    from_: StrictStr | None = Field(default=None, alias="from", max_length=32)
    metadata: dict[StrictStr, StrictStr] | None = None
    mode: Literal["payment", "subscription"] | None = None
    payer_handle: StrictStr | None = Field(default=None, max_length=32)
    price_id: StrictStr | None = Field(default=None, max_length=255)
    quantity: StrictInt | None = None
    rail: Literal["stripe", "natural"] | None = None
    trial_end: UtcMoment | None = None
    trial_period_days: StrictInt | None = None


class DiscountOut(WireModel):
    coupon: str | None = None
    label: str | None = None
    promotion_code: str | None = None


class NaturalOut(WireModel):
    payment_request_id: str | None = None
    transaction_id: str | None = None


class StripeOut(WireModel):
    customer_id: str | None = None
    payment_intent_id: str | None = None
    subscription_id: str | None = None


class PaymentRequestOut(WireModel):
    id: str
    object: Literal["payment_request"]
    amount: int
    currency: str
    checkout_url: str
    created_at: datetime
    updated_at: datetime | None = None
    mode: Literal["payment", "subscription"]
    status: PaymentStatus
    rail: Literal["stripe", "natural"] | None = None
    description: str | None = None
    discount: DiscountOut | None = None
    expires_at: datetime | None = None
    interval: Literal["day", "week", "month", "year"] | None = None
    interval_count: int | None = None
    metadata: dict[str, str] | None = None
    natural: NaturalOut | None = None
    paid_at: datetime | None = None
    price_id: str | None = None
    quantity: int | None = None
    stripe: StripeOut | None = None
    trial_end: datetime | None = None


class PaymentRequestListOut(WireModel):
    object: Literal["list"]
    data: list[PaymentRequestOut]
    has_more: bool


class ExperienceFieldOut(WireModel):
    type: Literal["string", "cents", "int", "url"]
    required: bool
    max: int | None = None


class ExperienceActionOut(WireModel):
    name: str
    summary: str
    fields: dict[str, ExperienceFieldOut]


class ExperienceOut(WireModel):
    experience: str
    display_name: str
    actions: list[ExperienceActionOut]


class ExperienceListOut(WireModel):
    experiences: list[ExperienceOut]
