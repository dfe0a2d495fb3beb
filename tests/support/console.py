"""The console over real HTTP, as its pages use it: an account chosen, the page token sent."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.server import RunningServer

_TOKEN = re.compile(r'<meta name="olq-token" content="([0-9a-f]+)">')


class ConsoleClient:
    def __init__(self, server: RunningServer, account_id: str) -> None:
        self.account_id = account_id
        self.http = httpx.Client(base_url=server.base_url, timeout=60)
        self.http.cookies.set("olq_account", account_id, path="/console")
        found = _TOKEN.search(self.page("/console/clock"))
        assert found, "the console page carries no action token"
        self.token = found.group(1)

    def page(self, path: str, **params: Any) -> str:
        response = self.http.get(path, params={"account": self.account_id, **params})
        assert response.status_code == 200, (response.status_code, response.text[:500])
        assert response.headers["content-type"].startswith("text/html")
        return response.text

    def act(self, path: str, json: Any = None, *, method: str = "POST") -> httpx.Response:
        """An action with the page token; the caller checks the answer."""
        return self.http.request(
            method,
            path,
            params={"account": self.account_id},
            json=json,
            headers={"X-Console-Token": self.token},
        )

    def close(self) -> None:
        self.http.close()
