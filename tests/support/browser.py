"""What the browser tests share: where chromium is, the loopback-only rule, screenshots.

Playwright drives Debian's ``chromium`` (``apt-get install chromium``; `.ci/run` installs it)
through ``executable_path``: no browser is ever downloaded. The fixtures built on this live in
tests/browser/conftest.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page

# OPENLINQ_TEST_CHROMIUM points at another Chromium build (e.g. a developer's own Chrome).
CHROMIUM = Path(os.environ.get("OPENLINQ_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
# Every action and expectation gives up after this (generous: CI machines are shared), well
# inside pytest's 120 s per test.
TIMEOUT_MS = 30_000

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def is_loopback(url: str) -> bool:
    """True for a URL on this machine's loopback, the only place a browser test may reach."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname in _LOOPBACK_HOSTS


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save the page as tests/artifacts/screenshots/<name>.png (git-ignored) and return it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_UNSAFE_NAME.sub('-', name).strip('-') or 'page'}.png"
    page.screenshot(path=path, full_page=full_page)
    return path
