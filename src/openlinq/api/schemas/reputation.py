"""Reputation audits (EXTRA): the started audit, the audit and its report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from openlinq.api.schemas.common import WireModel

AuditStatusName = Literal["pending", "complete", "error"]
DriverKeyName = Literal[
    "low_engagement",
    "overall_conversation_health",
    "volume_spike",
    "new_conversation_rate",
    "opt_out_handling",
    "flagged",
    "other",
]


class AuditStartedOut(WireModel):
    audit_id: str
    status: AuditStatusName


class DriverOut(WireModel):
    key: DriverKeyName
    metric: str
    summary: str


class ActionItemOut(WireModel):
    priority: int
    title: str
    detail: str
    expected_impact: Literal["high", "medium", "low"]


class UnhealthyChatOut(WireModel):
    chat_id: str
    status: Literal["AT_RISK", "CRITICAL", "OPTED_OUT"]
    driver_keys: list[DriverKeyName]


class OptOutChatOut(WireModel):
    chat_id: str
    messages_after_stop: int


class EvidenceOut(WireModel):
    unhealthy_chats: list[UnhealthyChatOut]
    opt_out_chats: list[OptOutChatOut]


class ReportOut(WireModel):
    severity: Literal["HEALTHY", "AT_RISK", "CRITICAL"]
    primary_driver: str
    drivers: list[DriverOut]
    action_items: list[ActionItemOut]
    evidence: EvidenceOut
    summary_markdown: str


class AuditOut(WireModel):
    audit_id: str
    status: AuditStatusName
    error: str | None = None
    generated_at: datetime | None = None
    phone: str | None = None
    report: ReportOut | None = None
