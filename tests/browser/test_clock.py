"""The clock & jobs page: advancing the manual clock runs what became due, live on the page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.browser import screenshot
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, magic


def test_advancing_the_clock_runs_the_due_jobs(
    server: RunningServer, tenant: Tenant, page: Page
) -> None:
    # The slow-network phone delivers 5 s after the send: one job waits for the clock.
    created = tenant.client.chats.create(
        from_=tenant.line,
        to=[magic("07")],
        message={"parts": [{"type": "text", "value": "are you there?"}]},
    )
    tenant.sim.advance(0)
    page.goto(f"{server.base_url}/console/clock?account={tenant.account_id}")
    expect(page.get_by_role("heading", name="Clock & jobs")).to_be_visible()
    jobs = page.locator("#jobs")
    expect(jobs).to_contain_text("sim.deliver")
    before = page.locator(".clock-now time").get_attribute("datetime")
    screenshot(page, "console-clock")

    page.get_by_role("button", name="+10 s").click()
    expect(page.locator(".toast")).to_have_text(re.compile(r"Advanced 10 s; [1-9][0-9]* jobs ran"))
    expect(page.locator(".clock-now time")).not_to_have_attribute("datetime", before or "")
    message = tenant.client.messages.retrieve(created.chat.message.id)
    assert message.delivery_status == "delivered"
