"""/docs (Swagger UI) and /redoc (ReDoc) render in a browser with the internet cut off
(issue #11, item 6); the page fixture aborts, and fails the test on, any non-loopback request."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support.browser import screenshot
from tests.support.server import RunningServer


def test_swagger_ui_lists_the_operations_offline(
    server: RunningServer, page: Page, blocked_requests: list[str]
) -> None:
    page.goto(server.base_url + "/docs")
    expect(page.locator(".info .title")).to_contain_text("openlinq")
    chats = page.locator('.opblock-summary-path[data-path="/v3/chats"]').first
    expect(chats).to_have_text("/v3/chats")
    expect(chats).to_be_visible()
    screenshot(page, "docs-swagger-ui")
    assert blocked_requests == []


def test_redoc_shows_the_operations_offline(
    server: RunningServer, page: Page, blocked_requests: list[str]
) -> None:
    page.goto(server.base_url + "/redoc")
    expect(page.get_by_role("heading", name="openlinq (0.1.0)")).to_be_visible()
    expect(page.get_by_role("heading", name="Create Chat")).to_be_visible()
    screenshot(page, "docs-redoc")
    assert blocked_requests == []
