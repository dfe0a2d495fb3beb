"""The console over real HTTP, as a page and its script use it: ``?account=`` picks the
account and every action carries the page's token (read from ``<meta name="olq-token">``)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.tenant import Tenant

_TOKEN = re.compile(r'<meta name="olq-token" content="([^"]+)">')


class ConsoleClient:
    def __init__(self, tenant: Tenant) -> None:
        self.account_id = tenant.account_id
        # The console needs no API key; a plain client proves it.
        self.http = httpx.Client(base_url=str(tenant.http.base_url), timeout=60)
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"account": self.account_id, **{k: v for k, v in params.items() if v is not None}}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=self._params(params))

    def page(self, path: str, **params: Any) -> str:
        response = self.get(path, **params)
        assert response.status_code == 200, (response.status_code, response.text)
        found = _TOKEN.search(response.text)
        if found:
            self._token = found.group(1)
        return response.text

    @property
    def token(self) -> str:
        if self._token is None:
            self.page("/console/clock")
        assert self._token is not None
        return self._token

    def act(
        self, path: str, json: Any = None, *, method: str = "POST", **params: Any
    ) -> httpx.Response:
        return self.http.request(
            method,
            path,
            params=self._params(params),
            json=json,
            headers={"X-Console-Token": self.token, "Accept": "application/json"},
        )

    def ok(self, path: str, json: Any = None, *, method: str = "POST") -> dict[str, Any]:
        response = self.act(path, json, method=method)
        assert response.status_code == 200, (response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body
