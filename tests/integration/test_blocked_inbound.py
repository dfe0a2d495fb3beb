"""The record of dropped inbound traffic on a real database: bounded per account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openlinq.domain.accounts import AccountService
from openlinq.domain.clock import ManualClock
from openlinq.domain.ids import new_id
from openlinq.store.repos.blocked import DroppedInbound
from openlinq.store.unit import Storage

pytestmark = pytest.mark.anyio

START = datetime(2026, 1, 1, tzinfo=UTC)


def _dropped(summary: str, minute: int) -> DroppedInbound:
    return DroppedInbound(
        new_id(),
        "+14155550100",
        "+14155550199",
        None,
        "message",
        summary,
        START + timedelta(minutes=minute),
    )


async def test_an_account_keeps_its_newest_dropped_records_only(storage: Storage) -> None:
    accounts = AccountService(storage, ManualClock())
    mine, _ = await accounts.create_account("mine")
    theirs, _ = await accounts.create_account("theirs")
    async with storage.write() as repos:
        await repos.blocked.record_dropped(theirs.id, _dropped("theirs", 0), keep=3)
        for minute in range(5):
            await repos.blocked.record_dropped(mine.id, _dropped(f"m{minute}", minute), keep=3)
    async with storage.read() as repos:
        kept = await repos.blocked.dropped(mine.id, 10)
        other = await repos.blocked.dropped(theirs.id, 10)
    assert [d.summary for d in kept] == ["m4", "m3", "m2"]
    assert [d.summary for d in other] == ["theirs"]
