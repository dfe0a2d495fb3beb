"""/console/lines in a browser: flag and restore a line, a key shown once then listed by its
prefix and revoked, an account created and chosen with the account picker (issue #11 item 4)."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import Dialog, Page, expect

from tests.support.browser import screenshot
from tests.support.server import RunningServer
from tests.support.tenant import Tenant


def _open(page: Page, server: RunningServer, tenant: Tenant) -> None:
    page.on("dialog", lambda dialog: _accept(dialog))  # the confirm() before flag/revoke
    page.goto(f"{server.base_url}/console/lines?account={tenant.account_id}")
    expect(page.locator("[data-live-status]")).to_have_class("live-dot on")


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def _status(server: RunningServer, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{server.base_url}/v3/phone_numbers", headers=headers).status_code


def _shown_once(page: Page) -> str:
    dialog = page.locator("dialog.shown-once")
    expect(dialog).to_be_visible()
    value = dialog.locator("input").input_value()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    return value


def test_a_line_is_flagged_and_restored(server: RunningServer, tenant: Tenant, page: Page) -> None:
    # A realistic account for the screenshot: a contact card, a second key, a revoked one.
    tenant.client.contact_card.create(
        phone_number=tenant.line, first_name="Ada", last_name="Lovelace"
    )
    accounts = server.services.accounts
    server.call(accounts.add_key, tenant.account_id, "ci")
    server.call(accounts.add_key, tenant.account_id, "old laptop")
    old = [k for k in server.call(accounts.keys, tenant.account_id) if k["name"] == "old laptop"]
    server.call(accounts.revoke_key, old[0]["id"])
    _open(page, server, tenant)
    status = page.locator(f'tr[data-line="{tenant.line}"] [data-status]')
    expect(status).to_have_text("ACTIVE")
    page.get_by_role("button", name=f"Flag {tenant.line}").click()
    expect(status).to_have_text("FLAGGED")
    changes = tenant.sim.events("phone_number.status_updated")
    assert [e["data"]["new_status"] for e in changes] == ["FLAGGED"]
    screenshot(page, "console-lines", full_page=True)
    page.get_by_role("button", name=f"Restore {tenant.line}").click()
    expect(status).to_have_text("ACTIVE")


def test_a_key_is_shown_once_listed_by_prefix_and_revoked(
    server: RunningServer, tenant: Tenant, page: Page
) -> None:
    _open(page, server, tenant)
    form = page.get_by_role("form", name="Create an API key")
    form.get_by_label("Name").fill("ci")
    form.get_by_role("button", name="Create key").click()
    key = _shown_once(page)
    assert key.startswith("olq_")
    assert _status(server, key) == 200
    keys = page.locator("#keys")
    row = keys.locator("tr", has_text=key[:8] + "…")
    expect(row).to_contain_text("ci")
    expect(row).to_contain_text("active")
    expect(keys).not_to_contain_text(key)
    row.get_by_role("button", name="Revoke").click()
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    expect(row).not_to_contain_text("active")
    assert _status(server, key) == 401
    assert _status(server, tenant.api_key) == 200


def test_an_account_is_created_and_chosen_with_the_picker(
    server: RunningServer, tenant: Tenant, page: Page
) -> None:
    _open(page, server, tenant)
    name = f"acme-{uuid.uuid4().hex[:6]}"
    form = page.get_by_role("form", name="Create an account")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Tier").select_option("sandbox")
    form.get_by_role("button", name="Create account").click()
    key = _shown_once(page)
    expect(page.locator("#accounts tr", has_text=name)).to_contain_text("100 a day")
    page.get_by_label("Account", exact=True).select_option(label=f"{name} (0 lines)")
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    expect(page.locator("#lines")).to_contain_text("no lines yet")
    account = server.call(server.services.accounts.authenticate, key)
    assert account.name == name
    expect(page.locator(f'#accounts tr[data-account="{account.id}"]')).to_contain_text("shown")
