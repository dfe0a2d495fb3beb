"""Agent payments (/v3/payments/...) and the simulated agentcard provider (/sim/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, StrictInt, StrictStr

from openlinq.api.schemas.common import RequestModel, WireModel


class ProviderOut(WireModel):
    provider: str
    status: Literal["onboarding", "ready", "disabled"]


class ProviderConnectIn(RequestModel):
    return_url: StrictStr = Field(max_length=2048)


class ProviderConnectOut(WireModel):
    hosted_url: str | None = None
    session_id: str | None = None
    status: str


class HandleConnectionOut(WireModel):
    handle: str
    status: Literal["not_connected", "pending", "connected", "revoked"]
    connect_id: str | None = None


class HandleVerifyIn(RequestModel):
    code: StrictStr = Field(max_length=32)
    connect_id: StrictStr = Field(max_length=64)


class MerchantIn(RequestModel):
    name: StrictStr | None = Field(default=None, max_length=1000)
    url: StrictStr | None = Field(default=None, max_length=4096)


class PaymentIn(RequestModel):
    handle: StrictStr = Field(max_length=320)
    amount_cents: StrictInt
    currency: StrictStr = Field(max_length=16)
    description: StrictStr | None = Field(default=None, max_length=10_000)
    merchant: MerchantIn | None = None
    metadata: dict[str, StrictStr] | None = None


class MerchantOut(WireModel):
    name: str | None = None
    url: str | None = None


class PaymentOut(WireModel):
    id: str | None = None
    status: Literal[
        "needs_connection",
        "connecting",
        "awaiting_user_action",
        "ready",
        "authorized",
        "succeeded",
        "declined",
        "canceled",
        "expired",
    ]
    handle: str
    amount_cents: int
    currency: str
    description: str | None = None
    merchant: MerchantOut | None = None
    metadata: dict[str, str] | None = None
    attach_url: str | None = None
    approval_url: str | None = None


class HandoffOut(WireModel):
    provider: str
    card_ref: str
    fetch_url: str
    user_token: str


class CredentialsOut(WireModel):
    handoff: HandoffOut


# -- simulator ---------------------------------------------------------------------------


class SimProviderIn(RequestModel):
    status: Literal["onboarding", "ready", "disabled"]


class WalletIn(RequestModel):
    card_on_file: bool | None = None
    approval_required: bool | None = None


class WalletMessageOut(WireModel):
    sender: str
    text: str
    code: str
    sent_at: datetime
    expires_at: datetime


class WalletActionOut(WireModel):
    action_id: str
    kind: Literal["attach_card", "approve"]
    url: str
    amount_cents: int
    currency: str
    description: str | None = None
    merchant: MerchantOut | None = None
    expires_at: datetime | None = None


class WalletOut(WireModel):
    handle: str
    card_on_file: bool
    approval_required: bool
    connection_status: str
    messages: list[WalletMessageOut]
    actions: list[WalletActionOut]


class WalletReplyIn(RequestModel):
    to: StrictStr | None = Field(default=None, max_length=32, description="One of your lines.")
    chat_id: StrictStr | None = Field(default=None, max_length=64, description="Or a chat.")


class WalletDecisionIn(RequestModel):
    decision: Literal["accept", "decline"]


class StageOut(WireModel):
    stage: str


class ChargeIn(RequestModel):
    outcome: Literal["authorize", "capture", "decline"]
