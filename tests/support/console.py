"""The console over real HTTP, as one account's browser tab: pages, and actions with the
page's token (read from its ``<meta name="olq-token">``, as console.js does)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.server import RunningServer

_TOKEN = re.compile(r'<meta name="olq-token" content="([0-9a-f]+)">')


class ConsoleClient:
    def __init__(self, server: RunningServer, account_id: str) -> None:
        self.account_id = account_id
        self.http = httpx.Client(
            base_url=server.base_url, params={"account": account_id}, timeout=60
        )
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, follow_redirects=False)

    def page(self, path: str, **params: Any) -> str:
        response = self.get(path, **params)
        assert response.status_code == 200, (response.status_code, response.text[:500])
        return response.text

    @property
    def token(self) -> str:
        if self._token is None:
            match = _TOKEN.search(self.page("/console/clock"))
            assert match, "the page carries its action token"
            self._token = match.group(1)
        return self._token

    def act(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Console-Token": self.token, **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.act(method, path, **kwargs)
        assert response.status_code < 300, (response.status_code, response.text)
        return dict(response.json())
