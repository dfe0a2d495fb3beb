"""What the real server writes to its log: an access line per request, a line per thing a
phone saw or did, a line per simulator action, a warning per failed webhook attempt, and
never a secret. The session server runs in this process, so its records reach caplog.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

import pytest

from openlinq.logs import JsonFormatter, TextFormatter
from tests.contract.test_webhook_delivery import (
    clock_now,
    forget_subscriptions,  # noqa: F401  (autouse fixture)
    new_traceparent,
    send_text,
)
from tests.support.receiver import Answer, Receiver
from tests.support.tenant import Tenant, magic

ECHO = magic("05")
UNREACHABLE = magic("03")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def wait_for(
    caplog: pytest.LogCaptureFixture, found: Callable[[logging.LogRecord], bool]
) -> logging.LogRecord:
    """The first record ``found`` accepts; the access line is written just after the answer
    has gone out, so the client can be a moment ahead of it."""
    deadline = time.monotonic() + 5
    while True:
        for record in caplog.records:
            if found(record):
                return record
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        time.sleep(0.01)


def messages(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


# -- the access log ----------------------------------------------------------------------


def test_each_request_gets_one_access_line_with_status_time_and_trace_id(
    tenant: Tenant, logs: pytest.LogCaptureFixture
) -> None:
    trace_id, traceparent = new_traceparent()
    response = tenant.http.get("/api/partner/v3/chats/nope", headers={"traceparent": traceparent})
    assert response.status_code == 404

    record = wait_for(logs, lambda r: r.name == "openlinq.access" and trace_id in r.getMessage())
    assert record.getMessage().startswith("GET /api/partner/v3/chats/nope 404 ")
    assert record.getMessage().endswith(f" ms trace={trace_id}")
    fields = vars(record)
    assert (fields["method"], fields["path"], fields["status"]) == (
        "GET",
        "/api/partner/v3/chats/nope",
        404,
    )
    assert isinstance(fields["ms"], float)
    assert fields["ms"] >= 0
    assert fields["trace_id"] == trace_id == response.headers["x-trace-id"]


def test_the_access_line_keeps_the_path_encoded_and_leaves_out_the_query(
    tenant: Tenant, logs: pytest.LogCaptureFixture
) -> None:
    trace_id, traceparent = new_traceparent()
    tenant.http.get(
        "/api/partner/v3/chats/a%0aFAKE%20LINE",
        params={"sig": "secret-signature"},
        headers={"traceparent": traceparent},
    )
    record = wait_for(logs, lambda r: r.name == "openlinq.access" and trace_id in r.getMessage())
    assert record.getMessage().startswith("GET /api/partner/v3/chats/a%0aFAKE%20LINE 404 ")
    assert "secret-signature" not in record.getMessage()


# -- what the phones saw and did ---------------------------------------------------------


def test_a_conversation_with_the_echo_bot_reads_as_a_story(
    tenant: Tenant, logs: pytest.LogCaptureFixture
) -> None:
    chat_id, message_id = send_text(tenant, to=ECHO, text="hi")
    tenant.sim.settle(10)

    story = messages(logs, "openlinq.delivery")
    assert f"→ {ECHO} sent" in story
    assert f"→ {ECHO} delivered" in story
    assert f'← {ECHO} "echo: hi"' in story
    assert story.index(f"→ {ECHO} delivered") < story.index(f'← {ECHO} "echo: hi"')
    delivered = next(
        r
        for r in logs.records
        if r.getMessage() == f"→ {ECHO} delivered" and vars(r)["chat_id"] == chat_id
    )
    fields = vars(delivered)
    assert (fields["message_id"], fields["status"], fields["handle"]) == (
        message_id,
        "delivered",
        ECHO,
    )


def test_a_failed_delivery_is_a_warning_with_its_code(
    tenant: Tenant, logs: pytest.LogCaptureFixture
) -> None:
    send_text(tenant, to=UNREACHABLE)
    tenant.sim.advance(0)

    (record,) = [r for r in logs.records if r.getMessage().startswith(f"→ {UNREACHABLE} failed")]
    assert record.levelno == logging.WARNING
    assert (
        record.getMessage()
        == f'→ {UNREACHABLE} failed 4002 "the recipient\'s phone is unreachable"'
    )


def test_simulator_actions_get_a_line_each(tenant: Tenant, logs: pytest.LogCaptureFixture) -> None:
    phone = "+14155557788"
    tenant.sim.configure(phone, preset="echo_bot")
    tenant.sim.send(phone, to=tenant.line, parts=[{"type": "text", "value": 'say "hi"\nplease'}])
    tenant.sim.advance(2)

    assert f"device {phone} set: preset=echo_bot" in messages(logs, "openlinq.simulator")
    assert any(m.startswith("clock advanced 2s to ") for m in messages(logs, "openlinq.simulator"))
    # A text is quoted: it can neither break the line nor forge another.
    assert f'← {phone} "say \\"hi\\"\\nplease"' in messages(logs, "openlinq.delivery")


# -- webhooks ------------------------------------------------------------------------------


def test_a_failed_webhook_attempt_is_a_warning_with_url_status_and_next_attempt(
    tenant: Tenant, receiver: Receiver, logs: pytest.LogCaptureFixture
) -> None:
    tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/hook?token=letmein"), subscribed_events=["message.sent"]
    )
    receiver.script(Answer(status=503))
    send_text(tenant)
    tenant.sim.advance(0)
    now = clock_now(tenant)

    (record,) = [r for r in logs.records if r.name == "openlinq.webhooks.dispatch"]
    url = receiver.url("/hook?token=***")
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert text.startswith(f"webhook message.sent → {url} failed: HTTP 503 (attempt 1); ")
    fields = vars(record)
    next_at = datetime.fromisoformat(fields["next_attempt_at"])
    assert 2.4 <= (next_at - now).total_seconds() <= 3.6  # 3 s +/- 20 %
    shown = next_at.isoformat(timespec="seconds")
    assert text.endswith(f"; next attempt at {shown} (in {(next_at - now).total_seconds():.1f} s)")
    assert (fields["url"], fields["status"], fields["attempt"]) == (url, 503, 1)
    assert "letmein" not in text


# -- secrets -------------------------------------------------------------------------------


def test_no_key_secret_or_authorization_header_reaches_the_log(
    tenant: Tenant, receiver: Receiver, logs: pytest.LogCaptureFixture
) -> None:
    logs.set_level(logging.DEBUG)
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url("/hook"), subscribed_events=["message.sent"]
    )
    receiver.script(Answer(status=500))
    trace_id, traceparent = new_traceparent()
    tenant.http.get("/api/partner/v3/webhook-subscriptions", headers={"traceparent": traceparent})
    send_text(tenant)
    tenant.sim.advance(0)
    wait_for(logs, lambda r: r.name == "openlinq.access" and trace_id in r.getMessage())

    secrets = (tenant.api_key, subscription.signing_secret)
    for formatter in (TextFormatter(), JsonFormatter()):
        written = "\n".join(formatter.format(r) for r in logs.records)
        for secret in secrets:
            assert secret not in written
        assert "Bearer" not in written
