"""The contract's shapes of a reputation report and audit (rendered once, here)."""

from __future__ import annotations

from typing import Any

from openlinq.domain.models import AuditStatus, ReputationAudit
from openlinq.domain.reputation import Report

JSON = dict[str, Any]


def report_view(report: Report) -> JSON:
    """``ReputationReport``: stored as rendered when an audit completes."""
    return {
        "severity": report.severity.value,
        "primary_driver": report.primary_driver,
        "drivers": [
            {"key": d.key.value, "metric": d.metric, "summary": d.summary} for d in report.drivers
        ],
        "action_items": [
            {
                "priority": a.priority,
                "title": a.title,
                "detail": a.detail,
                "expected_impact": a.expected_impact,
            }
            for a in report.action_items
        ],
        "evidence": {
            "unhealthy_chats": [
                {
                    "chat_id": c.chat_id,
                    "status": c.status.value,
                    "driver_keys": [k.value for k in c.driver_keys],
                }
                for c in report.unhealthy_chats
            ],
            "opt_out_chats": [
                {"chat_id": c.chat_id, "messages_after_stop": c.messages_after_stop}
                for c in report.opt_out_chats
            ],
        },
        "summary_markdown": markdown(report),
    }


def markdown(report: Report) -> str:
    """A deterministic rendering of the report's fields, for people and agents alike."""
    lines = [
        f"# Reputation report for {report.phone_number}",
        "",
        f"**Severity:** {report.severity.value}  ",
        f"**Primary driver:** {report.primary_driver or 'none'}",
        "",
        "## Drivers",
        "",
    ]
    lines += [
        f"{i}. **{d.key.value}** ({d.metric}): {d.summary}"
        for i, d in enumerate(report.drivers, start=1)
    ] or ["Nothing on this line needs action."]
    lines += ["", "## Action items", ""]
    lines += [
        f"{a.priority}. **{a.title}** (expected impact: {a.expected_impact}): {a.detail}"
        for a in report.action_items
    ]
    if report.unhealthy_chats:
        lines += ["", "## Unhealthy chats", ""]
        lines += [
            f"- `{c.chat_id}`: {c.status.value} ({', '.join(k.value for k in c.driver_keys)})"
            for c in report.unhealthy_chats
        ]
    if report.opt_out_chats:
        lines += ["", "## Opt-out chats", ""]
        lines += [
            f"- `{c.chat_id}`: {c.messages_after_stop} messages sent after the stop request"
            for c in report.opt_out_chats
        ]
    return "\n".join(lines) + "\n"


def audit_view(audit: ReputationAudit, phone_number: str) -> JSON:
    """``ReputationAudit``: ``error`` only on error, ``report`` only when complete."""
    view: JSON = {"audit_id": audit.id, "status": audit.status.value, "phone": phone_number}
    if audit.status is AuditStatus.ERROR:
        view["error"] = audit.error
    if audit.status is AuditStatus.COMPLETE:
        view["generated_at"] = audit.generated_at
        view["report"] = audit.report
    return view
