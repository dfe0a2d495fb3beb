"""/console/webhooks in a real browser: subscribe a failing local receiver, see the failed
attempt arrive in the live log with the request as sent, replay it once the receiver is
fixed, see the success."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.contract.test_webhook_delivery import (
    forget_subscriptions,  # noqa: F401  (autouse fixture)
    send_text,
)
from tests.support.browser import screenshot
from tests.support.receiver import Answer, Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant

WAIT_MS = 5_000


def test_a_failed_delivery_shows_in_the_log_and_a_replay_succeeds(
    page: Page, server: RunningServer, tenant: Tenant, receiver: Receiver
) -> None:
    page.goto(f"{server.base_url}/console/webhooks?account={tenant.account_id}")
    expect(page.get_by_text("No subscriptions yet")).to_be_visible()

    page.get_by_text("New subscription").click()
    page.get_by_label("Target URL").fill(receiver.url())
    checked = page.locator("input[name=subscribed_events]:checked")
    while checked.count():
        checked.first.uncheck()
    page.get_by_label("message.sent", exact=True).check()
    page.get_by_role("button", name="Create subscription").click()
    secret = page.locator("dialog.shown-once")
    expect(secret.get_by_role("heading")).to_have_text("Signing secret", timeout=WAIT_MS)
    expect(secret.get_by_role("textbox")).to_have_value(re.compile(r"^whsec_"), timeout=WAIT_MS)
    secret.get_by_role("button", name="Close").click()
    row = page.locator("#subscriptions tr[data-subscription]")
    expect(row.locator(".target")).to_have_text(receiver.url(), timeout=WAIT_MS)
    expect(row.locator("[data-state]")).to_have_text("active")
    (subscription,) = tenant.client.webhook_subscriptions.list().subscriptions
    assert subscription.subscribed_events == ["message.sent"]

    # The receiver fails the first attempt (then answers 200, as a fixed endpoint does).
    receiver.script(Answer(status=500, body=b'{"error":"database unavailable"}'))
    send_text(tenant)
    tenant.sim.advance(0)
    (hit,) = receiver.hits
    delivery = page.locator("#log details.delivery").first
    expect(delivery.locator("[data-status]")).to_have_text("retrying", timeout=WAIT_MS)
    expect(delivery.locator(".code")).to_have_text("500")
    expect(row.locator("[data-failing]")).to_be_visible(timeout=WAIT_MS)

    delivery.locator("summary").first.click()
    attempt = delivery.locator("details.attempt").first
    expect(attempt.locator("[data-code]")).to_have_text("500")
    attempt.locator("summary").click()
    signature = attempt.locator("table.headers tr", has_text="webhook-signature").first
    expect(signature.locator("td")).to_have_text(hit.headers["webhook-signature"])
    expect(attempt.locator("pre.request-body")).to_contain_text('"event_type": "message.sent"')
    expect(attempt.locator("pre.response")).to_have_text('{"error":"database unavailable"}')
    assert screenshot(page, "webhooks-log-failed-attempt", full_page=True).exists()

    delivery.get_by_role("button", name="Replay").click()
    expect(page.locator("[data-toasts]")).to_contain_text("queued to be sent again")
    expect(delivery.locator("[data-status]")).to_have_text("pending", timeout=WAIT_MS)
    tenant.sim.advance(0)
    expect(delivery.locator("[data-status]")).to_have_text("succeeded", timeout=WAIT_MS)
    expect(delivery.locator("details.attempt [data-code]")).to_have_text(["200", "500"])
    expect(row.locator("[data-failing]")).to_have_count(0, timeout=WAIT_MS)
    expect(row.locator("[data-last-status]")).to_have_text("succeeded")
    assert len(receiver.hits) == 2
    # The attempt opened before the reloads is still open.
    expect(delivery.locator("details.attempt").nth(1).locator("pre.request-body")).to_be_visible()
    assert screenshot(page, "webhooks-log-replayed", full_page=True).exists()
