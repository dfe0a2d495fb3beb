"""The reputation model: each driver's rule at its threshold, the ranking, the evidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from openlinq.domain import reputation as model
from openlinq.domain.health import Cause
from openlinq.domain.ids import ChatId
from openlinq.domain.models import ChatHealth, Reputation
from openlinq.domain.reputation import ChatSignal, DriverKey, LineSignals, OptOutChat, assess
from openlinq.domain.reputation_views import markdown, report_view

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

QUIET = LineSignals(
    phone_number="+16285550100",
    now=NOW,
    flagged=False,
    baseline_days=6,
    conversations=10,
    health_counts={ChatHealth.HEALTHY: 10},
    sent=60,
    failed=0,
    responses=40,
    sent_today=10,
    received_today=6,
    responses_today=6,
    new_conversations=4,
    engaged_new_conversations=3,
    new_conversations_today=1,
    opt_outs=0,
)


def _keys(signals: LineSignals) -> list[str]:
    return [d.key.value for d in assess(signals).drivers]


def test_a_quiet_line_is_healthy_with_one_reassuring_action_item() -> None:
    report = assess(QUIET)
    assert (report.severity, report.primary_driver, report.drivers) == (Reputation.HEALTHY, "", ())
    assert [(a.priority, a.expected_impact) for a in report.action_items] == [(1, "low")]
    view = report_view(report)
    assert view["evidence"] == {"unhealthy_chats": [], "opt_out_chats": []}
    assert "Nothing on this line needs action." in view["summary_markdown"]


def test_flagged_is_critical() -> None:
    report = assess(replace(QUIET, flagged=True))
    assert (report.severity, report.primary_driver) == (Reputation.CRITICAL, "flagged")


@pytest.mark.parametrize(
    ("after_stop", "severity"),
    [(0, Reputation.HEALTHY), (1, Reputation.AT_RISK), (3, Reputation.CRITICAL)],
)
def test_messages_after_stop(after_stop: int, severity: Reputation) -> None:
    chats = [OptOutChat(ChatId("a"), 0), OptOutChat(ChatId("b"), after_stop)]
    report = assess(replace(QUIET, opt_outs=1, opt_out_chats=chats))
    assert report.severity is severity
    assert _keys(replace(QUIET, opt_outs=1, opt_out_chats=chats)) == (
        ["opt_out_handling"] if after_stop else []
    )
    # Worst first.
    assert [c.messages_after_stop for c in report.opt_out_chats] == [after_stop, 0]


@pytest.mark.parametrize(("opt_outs", "driver"), [(2, False), (3, True)])
def test_many_opt_outs(opt_outs: int, driver: bool) -> None:
    signals = replace(QUIET, opt_outs=opt_outs, conversations=30)
    assert _keys(signals) == (["opt_out_handling"] if driver else [])
    # ... and at least a tenth of the active conversations.
    assert _keys(replace(signals, conversations=31)) == []


@pytest.mark.parametrize(
    ("sent_today", "responses_today", "driver"),
    [
        (49, 0, False),  # under the minimum
        (50, 0, True),
        (50, 25, False),  # recipients reply 1:2
        (50, 24, True),
    ],
)
def test_volume_spike_against_a_quiet_baseline(
    sent_today: int, responses_today: int, driver: bool
) -> None:
    signals = replace(
        QUIET,
        sent=60 + sent_today,
        sent_today=sent_today,
        responses=40 + responses_today,
        responses_today=responses_today,
    )
    assert ("volume_spike" in _keys(signals)) is driver


def test_volume_spike_is_relative_to_the_lines_own_level() -> None:
    busy = replace(QUIET, sent=6 * 100 + 299, sent_today=299, responses=600, responses_today=0)
    assert "volume_spike" not in _keys(busy)  # under 3x a 100-a-day baseline
    assert "volume_spike" in _keys(replace(busy, sent=900, sent_today=300))


def test_volume_over_the_recommended_daily_total() -> None:
    heavy = replace(QUIET, sent=7_000, sent_today=3_500, received_today=3_500)
    assert "volume_spike" not in _keys(replace(heavy, responses=7_000, responses_today=3_500))
    over = replace(heavy, received_today=3_501, responses=7_001, responses_today=3_501)
    assert _keys(over) == ["volume_spike"]


@pytest.mark.parametrize(("started", "driver"), [(24, False), (25, True)])
def test_new_conversation_rate(started: int, driver: bool) -> None:
    signals = replace(QUIET, new_conversations_today=started, new_conversations=started)
    assert _keys(signals) == (["new_conversation_rate"] if driver else [])


@pytest.mark.parametrize(
    ("unhealthy", "conversations", "severity"),
    [
        (1, 5, Reputation.HEALTHY),
        (2, 8, Reputation.AT_RISK),  # a quarter
        (4, 8, Reputation.CRITICAL),  # a half
        (4, 4, Reputation.HEALTHY),  # too few conversations to judge
    ],
)
def test_overall_conversation_health(
    unhealthy: int, conversations: int, severity: Reputation
) -> None:
    signals = replace(
        QUIET,
        conversations=conversations,
        health_counts={
            ChatHealth.AT_RISK: unhealthy,
            ChatHealth.HEALTHY: conversations - unhealthy,
        },
    )
    report = assess(signals)
    assert report.severity is severity
    assert report.primary_driver == (
        "" if severity is Reputation.HEALTHY else "overall_conversation_health"
    )


@pytest.mark.parametrize(
    ("delivered", "responses", "driver"),
    [(19, 0, False), (20, 4, True), (20, 5, False), (40, 9, True)],
)
def test_reciprocity_under_half_the_faq_target(
    delivered: int, responses: int, driver: bool
) -> None:
    signals = replace(QUIET, sent=delivered + 2, failed=2, responses=responses)
    assert _keys(signals) == (["overall_conversation_health"] if driver else [])


@pytest.mark.parametrize(("failed", "driver"), [(3, False), (4, True)])
def test_failing_deliveries_are_other(failed: int, driver: bool) -> None:
    signals = replace(QUIET, sent=20, failed=failed, responses=10)
    assert _keys(signals) == (["other"] if driver else [])


def test_ranking_is_by_level_then_specific_before_general() -> None:
    signals = replace(
        QUIET,
        sent=200,
        failed=60,
        responses=0,
        sent_today=150,
        responses_today=0,
        new_conversations_today=30,
        opt_outs=1,
        opt_out_chats=[OptOutChat(ChatId("x"), 1)],
        health_counts={ChatHealth.CRITICAL: 6, ChatHealth.HEALTHY: 4},
    )
    # overall_conversation_health is CRITICAL (6 of 10), the rest AT_RISK in fixed order.
    assert _keys(signals) == [
        "overall_conversation_health",
        "opt_out_handling",
        "volume_spike",
        "new_conversation_rate",
        "other",
    ]
    report = assess(replace(signals, flagged=True))
    assert [d.key for d in report.drivers][:2] == [
        DriverKey.FLAGGED,
        DriverKey.OVERALL_CONVERSATION_HEALTH,
    ]
    assert [a.priority for a in report.action_items] == [1, 2, 3, 4, 5, 6]
    assert report.action_items[0].title == "Move active traffic to a healthy line"


def test_unhealthy_chats_worst_first_with_their_keys() -> None:
    old = NOW - timedelta(days=3)
    chats = [
        ChatSignal(ChatId("at-risk"), ChatHealth.AT_RISK, frozenset({Cause.UNANSWERED}), old),
        ChatSignal(ChatId("failing"), ChatHealth.CRITICAL, frozenset({Cause.FAILURES}), old),
        ChatSignal(ChatId("stopped"), ChatHealth.OPTED_OUT, frozenset(), old),
        ChatSignal(ChatId("new"), ChatHealth.AT_RISK, frozenset({Cause.UNANSWERED}), NOW),
    ]
    signals = replace(QUIET, unhealthy_chats=chats, new_conversations_today=25)
    evidence = [
        (c.chat_id, c.status.value, [k.value for k in c.driver_keys])
        for c in assess(signals).unhealthy_chats
    ]
    assert evidence == [
        ("failing", "CRITICAL", ["other"]),
        ("stopped", "OPTED_OUT", ["opt_out_handling"]),
        ("at-risk", "AT_RISK", ["low_engagement"]),
        ("new", "AT_RISK", ["low_engagement", "new_conversation_rate"]),
    ]
    flagged = assess(replace(signals, flagged=True)).unhealthy_chats
    assert flagged[0].driver_keys == (DriverKey.FLAGGED,)


def test_at_most_fifteen_unhealthy_chats() -> None:
    chats = [
        ChatSignal(ChatId(f"c{i}"), ChatHealth.AT_RISK, frozenset({Cause.UNANSWERED}), NOW)
        for i in range(20)
    ]
    assert (
        len(assess(replace(QUIET, unhealthy_chats=chats)).unhealthy_chats) == model.EVIDENCE_LIMIT
    )


def test_the_markdown_is_deterministic_and_names_every_part() -> None:
    signals = replace(
        QUIET,
        flagged=True,
        opt_outs=1,
        opt_out_chats=[OptOutChat(ChatId("stopped"), 2)],
        unhealthy_chats=[
            ChatSignal(ChatId("failing"), ChatHealth.CRITICAL, frozenset({Cause.FAILURES}), NOW)
        ],
    )
    text = markdown(assess(signals))
    assert text == markdown(assess(signals))
    assert text.startswith("# Reputation report for +16285550100\n")
    for needle in (
        "**Severity:** CRITICAL",
        "**Primary driver:** flagged",
        "1. **flagged**",
        "2. **opt_out_handling**",
        "1. **Move active traffic to a healthy line** (expected impact: high)",
        "- `failing`: CRITICAL (flagged)",
        "- `stopped`: 2 messages sent after the stop request",
    ):
        assert needle in text
