"""The console over real HTTP: pages of a tenant's account, and its page token for actions."""

from __future__ import annotations

import re
from typing import Any

from tests.support.tenant import Tenant

_TOKEN = re.compile(r'<meta name="olq-token" content="([^"]+)">')


def page(tenant: Tenant, path: str, **params: Any) -> str:
    """The HTML of a console page (or fragment) showing the tenant's account; asserts 200."""
    response = tenant.http.get(path, params={"account": tenant.account_id, **params})
    assert response.status_code == 200, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def token(tenant: Tenant) -> str:
    found = _TOKEN.search(page(tenant, "/console/clock"))
    assert found, "every console page carries its action token"
    return found.group(1)


def act(tenant: Tenant, path: str, body: Any = None) -> Any:
    """A console action with the page token (JSON in, JSON out); asserts success."""
    response = tenant.http.post(
        path,
        params={"account": tenant.account_id},
        json=body,
        headers={"X-Console-Token": token(tenant)},
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None
