"""Browser fixtures: one headless chromium for this package, an offline page per test.

- ``browser``: Playwright's sync API driving chromium at ``CHROMIUM`` (no download). Missing
  chromium skips these tests on a developer's machine and fails them in CI (``CI=true``).
- ``page``: a fresh context and page. Every request not to the loopback is aborted and
  recorded in ``blocked_requests``; a test that let its page try one fails at teardown, as
  does one whose page threw an uncaught JavaScript error. So each test proves the UI works
  offline.
- ``screenshot(page, name)`` (tests/support/browser.py) keeps PNGs as test artifacts.

Use the session ``server`` fixture for the URL (``server.base_url``) and ``server.call`` for
set-up: while Playwright runs, this thread counts as running an asyncio loop, so
``asyncio.run`` and ``anyio`` tests cannot run here. That is also why ``browser`` is
package-scoped: it stops before the suites after this one start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, expect, sync_playwright

from tests.support.browser import CHROMIUM, TIMEOUT_MS, is_loopback


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"no chromium at {CHROMIUM}: apt-get install chromium (see .ci/run)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as running:
        expect.set_options(timeout=TIMEOUT_MS)
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield launched
    launched.close()


@pytest.fixture
def blocked_requests() -> list[str]:
    """URLs the test's page tried to reach outside the loopback (all aborted)."""
    return []


@pytest.fixture
def page(browser: Browser, blocked_requests: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)

    def loopback_only(route: Route) -> None:
        if is_loopback(route.request.url):
            route.continue_()
        else:
            blocked_requests.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", loopback_only)
    opened = context.new_page()
    page_errors: list[str] = []
    opened.on("pageerror", lambda error: page_errors.append(str(error)))
    yield opened
    context.close()
    if blocked_requests:
        pytest.fail(f"the page tried to reach outside the loopback: {blocked_requests}")
    if page_errors:
        pytest.fail(f"uncaught JavaScript errors on the page: {page_errors}")
