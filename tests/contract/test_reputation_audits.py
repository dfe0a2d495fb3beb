"""Reputation audits and line reputation, through the SDK: the audit's lifecycle and errors,
then one scripted traffic pattern per driver, each ranked first with its evidence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import linq
import pytest
from linq.types import PhoneNumberStatusUpdatedWebhookEvent
from linq.types.reputation_audit import ReputationAudit
from linq.types.reputation_report import ReputationReport
from sqlalchemy import update

from openlinq.domain.reputation_audits import COOLDOWN, REFRESH_EVERY_SECONDS
from openlinq.store.tables import lines
from tests.support.receiver import Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, fresh_line_number


def _text(value: str = "hello") -> Any:
    return {"parts": [{"type": "text", "value": value}]}


def _start(tenant: Tenant, line: str | None = None) -> str:
    started = tenant.client.phone_numbers.start_reputation_audit(line or tenant.line)
    assert started.status == "pending"
    return started.audit_id


def _get(tenant: Tenant, audit_id: str, line: str | None = None) -> ReputationAudit:
    return tenant.client.phone_numbers.get_reputation_audit(
        audit_id, phone_number=line or tenant.line
    )


def _audit(tenant: Tenant, line: str | None = None) -> ReputationReport:
    """Start an audit, let its job run, and return the completed report."""
    audit_id = _start(tenant, line)
    tenant.sim.advance(0)
    audit = _get(tenant, audit_id, line)
    assert (audit.status, audit.phone, audit.error) == ("complete", line or tenant.line, None)
    assert audit.generated_at is not None
    assert audit.report is not None
    return audit.report


def _reputation(tenant: Tenant, line: str | None = None) -> str:
    listed = tenant.client.phone_numbers.list().phone_numbers
    return next(n.reputation.status for n in listed if n.phone_number == (line or tenant.line))


def _recipients(tenant: Tenant, count: int, **device: Any) -> list[str]:
    handles = [fresh_line_number() for _ in range(count)]
    if device:
        for handle in handles:
            tenant.sim.configure(handle, **device)
    return handles


def _chat(tenant: Tenant, to: str, messages: int = 1) -> str:
    chat_id = tenant.client.chats.create(from_=tenant.line, to=[to], message=_text()).chat.id
    for i in range(messages - 1):
        tenant.client.chats.messages.send(chat_id, message=_text(f"follow-up {i}"))
    return chat_id


@pytest.fixture
def other(server: RunningServer) -> Iterator[Tenant]:
    created = create_tenant(server)
    yield created
    created.client.close()
    created.http.close()


# -- the audit's lifecycle --------------------------------------------------------------------


def test_a_quiet_line_audits_healthy_with_one_reassuring_item(tenant: Tenant) -> None:
    audit_id = _start(tenant)
    pending = tenant.http.get(f"/v3/phone_numbers/{tenant.line}/reputation_audit/{audit_id}")
    assert pending.status_code == 200
    assert pending.json() == {"audit_id": audit_id, "status": "pending", "phone": tenant.line}
    tenant.sim.advance(0)
    report = _get(tenant, audit_id).report
    assert report is not None
    assert (report.severity, report.primary_driver, report.drivers) == ("HEALTHY", "", [])
    assert report.action_items is not None
    assert len(report.action_items) == 1
    assert (report.action_items[0].priority, report.action_items[0].expected_impact) == (1, "low")
    assert report.evidence is not None
    assert (report.evidence.unhealthy_chats, report.evidence.opt_out_chats) == ([], [])
    assert report.summary_markdown is not None
    assert report.summary_markdown.startswith(f"# Reputation report for {tenant.line}\n")
    assert _reputation(tenant) == "HEALTHY"


def test_starting_while_one_runs_returns_the_running_audit(tenant: Tenant) -> None:
    first = _start(tenant)
    again = tenant.http.post(f"/v3/phone_numbers/{tenant.line}/reputation_audit")
    assert again.status_code == 202
    assert again.json() == {"audit_id": first, "status": "pending"}
    # Another line of the account audits on its own.
    assert _start(tenant, tenant.lines[1].phone_number) != first


def test_after_an_audit_completes_a_new_one_waits_out_the_cooldown(tenant: Tenant) -> None:
    first = _start(tenant)
    tenant.sim.advance(60)
    with pytest.raises(linq.RateLimitError) as e:
        tenant.client.phone_numbers.start_reputation_audit(tenant.line)
    assert (e.value.status_code, e.value.code) == (429, 1007)
    wait = int(COOLDOWN.total_seconds()) - 60
    assert e.value.response.headers["retry-after"] == str(wait)
    assert e.value.response.headers["x-should-retry"] == "false"
    body = e.value.response.json()
    assert body["success"] is False
    assert body["error"]["retry_after"] == wait
    assert first not in e.value.response.text  # the cooldown does not repeat the id
    tenant.sim.advance(wait)
    second = _start(tenant)
    assert second != first
    assert _get(tenant, first).status == "complete"  # still readable


def test_an_audit_is_readable_for_24_hours_then_forgotten(
    server: RunningServer, tenant: Tenant
) -> None:
    audit_id = _start(tenant)
    tenant.sim.advance(24 * 3600 - 1)
    assert _get(tenant, audit_id).status == "complete"
    tenant.sim.advance(1)
    with pytest.raises(linq.NotFoundError) as e:
        _get(tenant, audit_id)
    assert e.value.status_code == 404

    async def stored() -> bool:
        async with server.services.storage.read() as repos:
            return await repos.reputation.audit_any(audit_id) is not None

    assert server.call(stored)
    tenant.sim.advance(REFRESH_EVERY_SECONDS)  # the hourly job deletes what is unreadable
    assert not server.call(stored)


def test_an_audit_of_another_line_or_account_is_404(tenant: Tenant, other: Tenant) -> None:
    audit_id = _start(tenant)
    tenant.sim.advance(0)
    cases = [
        (tenant, tenant.lines[1].phone_number, audit_id),  # the account's other line
        (other, other.line, audit_id),  # another account's line
        (tenant, tenant.line, "00000000-0000-0000-0000-000000000000"),  # unknown id
    ]
    for who, line, wanted in cases:
        with pytest.raises(linq.NotFoundError) as e:
            _get(who, wanted, line)
        assert e.value.status_code == 404
        assert e.value.response.json()["error"]["code"] == 2005
    for line in (other.line, fresh_line_number()):  # not the account's line
        with pytest.raises(linq.NotFoundError):
            tenant.client.phone_numbers.start_reputation_audit(line)
        with pytest.raises(linq.NotFoundError):
            _get(tenant, audit_id, line)


@pytest.mark.parametrize("number", ["4155551234", "0b4e7c1e-5a7d-4f0e-9a8e-3f1f2d6c7b10"])
def test_a_phone_number_that_is_not_e164_is_400(tenant: Tenant, number: str) -> None:
    """Also a line's id given by mistake: told it is not a phone number."""
    with pytest.raises(linq.BadRequestError) as e:
        tenant.client.phone_numbers.start_reputation_audit(number)
    assert (e.value.status_code, e.value.code) == (400, 1002)


def test_an_audit_that_cannot_finish_is_error_and_can_be_started_again(
    server: RunningServer, tenant: Tenant, other: Tenant
) -> None:
    audit_id = _start(tenant)
    line_id = tenant.lines[0].id

    async def reassign(account_id: str) -> None:
        async with server.services.storage.write() as repos:
            await repos.conn.execute(
                update(lines).where(lines.c.id == line_id).values(account_id=account_id)
            )

    # The line moves to another account before the job runs (a released number).
    server.call(reassign, other.account_id)
    tenant.sim.advance(0)
    server.call(reassign, tenant.account_id)
    raw = tenant.http.get(f"/v3/phone_numbers/{tenant.line}/reputation_audit/{audit_id}").json()
    assert raw == {
        "audit_id": audit_id,
        "status": "error",
        "phone": tenant.line,
        "error": "The audit could not be completed; start a new one.",
    }
    assert _get(tenant, audit_id).status == "error"
    assert _start(tenant) != audit_id  # no cooldown after an error


# -- one traffic pattern per driver -----------------------------------------------------------


def test_flagged_line_is_critical_and_restoring_rescores_it(tenant: Tenant) -> None:
    failing = _chat(tenant, _recipients(tenant, 1, reachable=False)[0], messages=3)
    tenant.sim.advance(1)
    assert tenant.http.put(f"/sim/v1/lines/{tenant.line}", json={"status": "FLAGGED"}).is_success
    [event] = tenant.sim.events("phone_number.status_updated")
    assert (event["data"]["previous_reputation"], event["data"]["new_reputation"]) == (
        "HEALTHY",
        "CRITICAL",
    )
    assert _reputation(tenant) == "CRITICAL"
    report = _audit(tenant)
    assert (report.severity, report.primary_driver) == ("CRITICAL", "flagged")
    assert report.drivers is not None
    assert report.drivers[0].metric == "line status FLAGGED"
    assert report.action_items is not None
    assert report.action_items[0].title == "Move active traffic to a healthy line"
    assert report.evidence is not None
    assert report.evidence.unhealthy_chats is not None
    assert [(c.chat_id, c.status, c.driver_keys) for c in report.evidence.unhealthy_chats] == [
        (failing, "CRITICAL", ["flagged"])
    ]
    assert tenant.http.put(f"/sim/v1/lines/{tenant.line}", json={"status": "ACTIVE"}).is_success
    assert _reputation(tenant) == "HEALTHY"


def test_messages_after_stop_put_opt_out_handling_first(tenant: Tenant) -> None:
    [stopper] = _recipients(tenant, 1, preset="stopper")
    chat_id = _chat(tenant, stopper)
    tenant.sim.advance(5)  # the device answers STOP
    assert tenant.client.chats.retrieve(chat_id).health_status.status == "OPTED_OUT"
    with pytest.raises(linq.PermissionDeniedError):
        tenant.client.chats.messages.send(chat_id, message=_text("still there?"))
    for i in range(3):
        tenant.client.chats.messages.send(
            chat_id, message=_text(f"after stop {i}"), override_optout=True
        )
    tenant.sim.advance(1)
    report = _audit(tenant)
    assert (report.severity, report.primary_driver) == ("CRITICAL", "opt_out_handling")
    assert report.drivers is not None
    assert report.drivers[0].metric == "3 messages sent after STOP in 1 chats; 1 opt-outs in 7 days"
    assert report.evidence is not None
    assert [(c.chat_id, c.messages_after_stop) for c in report.evidence.opt_out_chats or []] == [
        (chat_id, 3)
    ]
    assert [
        (c.chat_id, c.status, c.driver_keys) for c in report.evidence.unhealthy_chats or []
    ] == [(chat_id, "OPTED_OUT", ["opt_out_handling"])]
    assert _reputation(tenant) == "CRITICAL"


def test_one_sided_conversations_are_low_engagement_and_overall_health_first(
    tenant: Tenant,
) -> None:
    """Five chats, five unanswered messages each: every chat AT_RISK for low engagement
    (named on the chats, never a line driver), the line CRITICAL on conversation health."""
    chats = [_chat(tenant, to, messages=5) for to in _recipients(tenant, 5)]
    tenant.sim.advance(1)
    report = _audit(tenant)
    assert (report.severity, report.primary_driver) == ("CRITICAL", "overall_conversation_health")
    assert report.drivers is not None
    assert [d.key for d in report.drivers] == ["overall_conversation_health"]
    assert report.drivers[0].metric is not None
    assert report.drivers[0].metric.startswith(
        "5 of 5 active conversations at risk or critical; reciprocity 0:25 inbound:outbound"
    )
    assert report.evidence is not None
    evidence = report.evidence.unhealthy_chats or []
    assert sorted(c.chat_id or "" for c in evidence) == sorted(chats)
    assert {(c.status, tuple(c.driver_keys or ())) for c in evidence} == {
        ("AT_RISK", ("low_engagement",))
    }


def test_a_burst_with_few_replies_is_a_volume_spike(tenant: Tenant) -> None:
    """A new line sends 50 messages in a day to two recipients who never answer."""
    for to in _recipients(tenant, 2):
        _chat(tenant, to, messages=25)
    tenant.sim.advance(1)
    report = _audit(tenant)
    assert (report.severity, report.primary_driver) == ("AT_RISK", "volume_spike")
    assert report.drivers is not None
    assert (
        report.drivers[0].metric == "50 sent in the last 24 h against 0 a day before; 0 responses"
    )
    assert report.action_items is not None
    assert report.action_items[0].title == "Ramp volume up gradually"


@pytest.mark.parametrize(("burst", "spike"), [(59, False), (60, True)])
def test_a_burst_three_times_the_lines_daily_level_is_a_volume_spike(
    tenant: Tenant, burst: int, spike: bool
) -> None:
    """Six days of 20 messages a day to a recipient who answers each, then a day with
    ``burst`` messages to three who never answer: 60 is three times the line's level."""
    [friend] = _recipients(tenant, 1, reply="echo", reply_after=1.0)
    chat_id = _chat(tenant, friend, messages=20)
    for day in range(6):
        tenant.sim.advance(86_400)
        if day < 5:
            for i in range(20):
                tenant.client.chats.messages.send(chat_id, message=_text(f"day {day} {i}"))
    strangers = [_chat(tenant, to) for to in _recipients(tenant, 3)]
    for n in range(burst - len(strangers)):
        tenant.client.chats.messages.send(strangers[n % 3], message=_text(f"burst {n}"))
    tenant.sim.advance(5)
    report = _audit(tenant)
    assert report.drivers is not None
    if not spike:
        assert (report.severity, report.drivers) == ("HEALTHY", [])
        return
    assert (report.severity, report.primary_driver) == ("AT_RISK", "volume_spike")
    assert [d.key for d in report.drivers] == ["volume_spike"]
    assert report.drivers[0].metric == (
        "60 sent in the last 24 h against 20 a day before; 0 responses"
    )


def test_many_new_conversations_in_a_day(tenant: Tenant) -> None:
    """25 brand-new conversations in a day, every recipient answering: only the rate."""
    for to in _recipients(tenant, 25, reply="echo", reply_after=1.0):
        _chat(tenant, to)
    tenant.sim.advance(5)
    report = _audit(tenant)
    assert (report.severity, report.primary_driver) == ("AT_RISK", "new_conversation_rate")
    assert report.drivers is not None
    assert [d.key for d in report.drivers] == ["new_conversation_rate"]
    assert report.drivers[0].metric is not None
    assert report.drivers[0].metric.startswith("25 conversations started in the last 24 h")
    assert report.evidence is not None
    assert report.evidence.unhealthy_chats == []


def test_failing_deliveries_are_other(tenant: Tenant) -> None:
    [unreachable] = _recipients(tenant, 1, reachable=False)
    chat_id = _chat(tenant, unreachable, messages=20)
    tenant.sim.advance(1)
    report = _audit(tenant)
    assert (report.severity, report.primary_driver) == ("AT_RISK", "other")
    assert report.drivers is not None
    assert report.drivers[0].metric == "20 of 20 messages failed to deliver in 7 days"
    assert report.evidence is not None
    assert [
        (c.chat_id, c.status, c.driver_keys) for c in report.evidence.unhealthy_chats or []
    ] == [(chat_id, "CRITICAL", ["other"])]


# -- line reputation --------------------------------------------------------------------------


def test_the_hourly_rescoring_moves_line_reputation_and_fires_the_webhook(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["phone_number.status_updated"]
    )
    for to in _recipients(tenant, 5):
        _chat(tenant, to, messages=5)
    tenant.sim.advance(1)
    assert _reputation(tenant) == "HEALTHY"  # not rescored yet
    tenant.sim.advance(REFRESH_EVERY_SECONDS)
    assert _reputation(tenant) == "CRITICAL"
    assert _reputation(tenant, tenant.lines[1].phone_number) == "HEALTHY"
    [hit] = receiver.hits
    event = tenant.client.webhooks.unwrap(
        hit.body.decode(), headers=hit.headers, key=subscription.signing_secret
    )
    assert isinstance(event, PhoneNumberStatusUpdatedWebhookEvent)
    data = event.data
    assert (data.phone_number, data.previous_status, data.new_status) == (
        tenant.line,
        "ACTIVE",
        "ACTIVE",
    )
    assert (data.previous_reputation, data.new_reputation) == ("HEALTHY", "CRITICAL")
    # An unchanged score emits nothing.
    tenant.sim.advance(REFRESH_EVERY_SECONDS)
    assert len(receiver.hits) == 1
