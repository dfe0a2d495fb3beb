"""A fresh account per test: its API key, lines, an SDK client and simulator helpers."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from linq import LinqAPIV3

from openlinq.domain.models import AccountTier, Line, LineType
from tests.support.server import RunningServer

_numbers = itertools.count(random.SystemRandom().randrange(10_000, 90_000) * 100)


def fresh_line_number() -> str:
    """A number no other test uses (outside the simulator's magic 555-01XX range)."""
    return f"+1628{next(_numbers) % 10_000_000:07d}"


def magic(suffix: str, area: str = "415") -> str:
    """A simulator magic number: +1 NPA 555-01XX."""
    return f"+1{area}55501{suffix}"


class Sim:
    """The /sim/v1 control API over real HTTP."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content else None

    def advance(self, seconds: float = 0.0) -> int:
        body = self._ok(self.http.post("/sim/v1/clock/advance", json={"seconds": seconds}))
        return int(body["jobs_run"])

    def settle(self, seconds: float = 30.0, step: float = 0.5) -> None:
        """Advance the clock in steps so every delay up to ``seconds`` plays out in order."""
        elapsed = 0.0
        self.advance(0)
        while elapsed < seconds:
            self.advance(step)
            elapsed += step

    def device(self, handle: str) -> dict[str, Any]:
        return dict(self._ok(self.http.get(f"/sim/v1/devices/{handle}")))

    def configure(self, handle: str, **settings: Any) -> dict[str, Any]:
        return dict(self._ok(self.http.put(f"/sim/v1/devices/{handle}", json=settings)))

    def screen(self, handle: str) -> list[dict[str, Any]]:
        return list(self._ok(self.http.get(f"/sim/v1/devices/{handle}/screen"))["messages"])

    def send(self, handle: str, **body: Any) -> dict[str, Any]:
        return dict(self._ok(self.http.post(f"/sim/v1/devices/{handle}/messages", json=body)))

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        events = self._ok(self.http.get("/sim/v1/events", params={"limit": 500}))["events"]
        ordered = list(reversed(events))
        return [e for e in ordered if event_type is None or e["event_type"] == event_type]


@dataclass
class Tenant:
    account_id: str
    api_key: str
    lines: list[Line]
    client: LinqAPIV3
    http: httpx.Client
    sim: Sim

    @property
    def line(self) -> str:
        return self.lines[0].phone_number


def create_tenant(
    server: RunningServer,
    *,
    line_types: tuple[LineType, ...] = (LineType.IMESSAGE, LineType.IMESSAGE),
    tier: AccountTier = AccountTier.STANDARD,
) -> Tenant:
    services = server.services
    account, key = server.call(services.accounts.create_account, "test", tier)
    lines = [
        server.call(services.accounts.add_line, account.id, fresh_line_number(), line_type)
        for line_type in line_types
    ]
    client = LinqAPIV3(
        base_url=server.sdk_base_url,
        api_key=key,
        _strict_response_validation=True,
        max_retries=0,
    )
    # Generous: one clock advance runs every job that became due, for every account.
    http = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    )
    return Tenant(account.id, key, lines, client, http, Sim(http))


@contextmanager
def tenant_on(server: RunningServer) -> Iterator[Tenant]:
    """A fresh account on ``server``; its clients are closed when the block ends."""
    created = create_tenant(server)
    try:
        yield created
    finally:
        created.client.close()
        created.http.close()
