"""Webhook subscriptions, the event catalogue, and openlinq's delivery-log extension."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from openlinq.api.schemas.common import RequestModel, UtcMoment, WireModel


class SubscriptionCreateIn(RequestModel):
    target_url: str = Field(max_length=2048)
    subscribed_events: list[str] = Field(max_length=100)
    phone_numbers: list[str] | None = Field(default=None, max_length=1000)
    routing_key_header: str | None = Field(default=None, max_length=128)
    routing_id_header: str | None = Field(default=None, max_length=128)


class SubscriptionUpdateIn(RequestModel):
    target_url: str | None = Field(default=None, max_length=2048)
    subscribed_events: list[str] | None = Field(default=None, max_length=100)
    is_active: bool | None = None
    phone_numbers: list[str] | None = Field(default=None, max_length=1000)
    routing_key_header: str | None = Field(default=None, max_length=128)
    routing_id_header: str | None = Field(default=None, max_length=128)


class SubscriptionOut(WireModel):
    id: str
    created_at: datetime
    updated_at: datetime
    is_active: bool
    subscribed_events: list[str]
    target_url: str
    phone_numbers: list[str] | None = None
    routing_id_header: str | None = None
    routing_key_header: str | None = None
    disabled_reason: str | None = Field(
        default=None, description="openlinq: why the subscription was disabled, if it was."
    )


class SubscriptionCreateOut(SubscriptionOut):
    signing_secret: str


class SubscriptionListOut(WireModel):
    subscriptions: list[SubscriptionOut]


class EventTypesOut(WireModel):
    doc_url: str
    events: list[str]


class AttemptOut(WireModel):
    attempted_at: datetime
    status_code: int | None = None
    latency_ms: int
    error: str | None = None
    response_snippet: str | None = None


class DeliveryOut(WireModel):
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "retrying", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    attempt_log: list[AttemptOut] = Field(default_factory=list)


class DeliveryPageOut(WireModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None = None


class RecoverIn(RequestModel):
    since: UtcMoment


class RecoverOut(WireModel):
    requeued: int
