"""Being a phone in the console, in a real browser: the agent under test hears it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.support.browser import screenshot
from tests.support.files import PNG
from tests.support.receiver import Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant

A = "+14155554201"
WAIT = 5_000  # ms: every expectation waits at most this long


def _choose_account(page: Page, server: RunningServer, tenant: Tenant) -> None:
    """As the account picker does: every page, fragment and action then shows this account."""
    page.context.add_cookies(
        [{"name": "olq_account", "value": tenant.account_id, "url": server.base_url}]
    )


def _open_phone(page: Page, server: RunningServer, tenant: Tenant, handle: str) -> None:
    _choose_account(page, server, tenant)
    page.goto(f"{server.base_url}/console/phones/{quote(handle, safe='')}")
    expect(page.locator("[data-live-status]")).to_have_class("live-dot on", timeout=WAIT)


def test_typing_as_a_phone_reaches_the_agents_webhook(
    page: Page, server: RunningServer, tenant: Tenant, receiver: Receiver
) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.received"]
    )
    _open_phone(page, server, tenant, A)
    page.get_by_label("Send to", exact=True).select_option(f"line:{tenant.line}")
    page.get_by_label("Message", exact=True).fill("hello agent")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#screen")).to_contain_text("hello agent", timeout=WAIT)
    tenant.sim.advance(0)  # the webhook delivery is a job: run it
    (hit,) = receiver.wait_for(1, timeout=5)
    event = tenant.client.webhooks.unwrap(
        hit.body.decode(), headers=hit.headers, key=subscription.signing_secret
    )
    assert event.event_type == "message.received"
    assert event.data.sender_handle.handle == A  # type: ignore[union-attr]


def test_an_echo_bot_answers_when_the_clock_moves(
    page: Page,
    server: RunningServer,
    tenant: Tenant,
) -> None:
    _open_phone(page, server, tenant, A)
    # Make it an echo bot through its settings form.
    page.get_by_label("Preset", exact=True).select_option("echo_bot")
    page.get_by_role("button", name="Save").click()
    # The page shows the device afresh, with what it now does.
    expect(page.locator("#behaviour")).to_contain_text("echo: <text>", timeout=WAIT)
    expect(page.locator("[data-live-status]")).to_have_class("live-dot on", timeout=WAIT)
    assert tenant.sim.device(A)["profile"]["reply"] == "echo"
    # The agent writes; the phone sees it once delivered.
    tenant.client.chats.create(
        from_=tenant.line, to=[A], message={"parts": [{"type": "text", "value": "ping"}]}
    )
    tenant.sim.advance(0)
    screen = page.locator("#screen")
    expect(screen).to_contain_text("ping", timeout=WAIT)
    expect(screen).not_to_contain_text("echo: ping")
    # Move the clock from the console's clock page, in another tab: the reply arrives live.
    clock = page.context.new_page()
    clock.goto(f"{server.base_url}/console/clock")
    clock.get_by_role("button", name="+10 s").click()
    expect(clock.locator(".toast")).to_contain_text("Advanced 10 s", timeout=WAIT)
    expect(screen.locator(".bubble-row.sent")).to_contain_text("echo: ping", timeout=WAIT)
    # Mid-conversation: the phone answers back and reacts.
    page.get_by_label("Message", exact=True).fill("Thanks! See you at 6 🙂")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(screen).to_contain_text("See you at 6", timeout=WAIT)
    page.locator(".bubble-row.received").first.get_by_role("button", name="React love").click()
    expect(screen.locator(".reactions").first).to_contain_text("❤️", timeout=WAIT)
    screenshot(page, "phone-mid-conversation")


def test_sending_a_file_from_disk(
    page: Page, server: RunningServer, tenant: Tenant, tmp_path: Path
) -> None:
    photo = tmp_path / "beach.png"
    photo.write_bytes(PNG)
    _open_phone(page, server, tenant, A)
    page.get_by_label("Send to", exact=True).select_option(f"line:{tenant.line}")
    page.get_by_label("Message", exact=True).fill("look at this")
    page.get_by_label("File", exact=True).set_input_files(photo)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#screen .file")).to_contain_text("beach.png", timeout=WAIT)
    received = tenant.sim.events("message.received")
    assert [p["type"] for p in received[-1]["data"]["parts"]] == ["media", "text"]
    assert received[-1]["data"]["parts"][0]["filename"] == "beach.png"


def test_approving_an_agent_payment_on_the_phone(
    page: Page, server: RunningServer, tenant: Tenant
) -> None:
    tenant.http.put("/sim/v1/payments/providers/agentcard", json={"status": "ready"})
    pending = tenant.client.payment_handles.connect(A)
    _open_phone(page, server, tenant, A)
    wallet = page.get_by_role("region", name="Agent payments wallet")
    expect(wallet).to_contain_text("is your code", timeout=WAIT)
    code = tenant.http.get(f"/sim/v1/devices/{A}/wallet").json()["messages"][-1]["code"]
    tenant.client.payment_handles.verify(A, code=code, connect_id=pending.connect_id or "")
    tenant.http.put(f"/sim/v1/devices/{A}/wallet", json={"card_on_file": True})
    key = {"Idempotency-Key": "browser-approval"}
    assert tenant.client.payments.create(
        handle=A, amount_cents=990, currency="usd", extra_headers=key
    ).approval_url
    page.reload()
    expect(wallet).to_contain_text("Approve 9.90 USD", timeout=WAIT)
    wallet.get_by_role("button", name="Approve").click()
    expect(wallet).to_contain_text("Nothing waiting", timeout=WAIT)
    payment = tenant.client.payments.create(
        handle=A, amount_cents=990, currency="usd", extra_headers=key
    )
    assert payment.status == "ready"
