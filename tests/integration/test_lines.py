"""Line use is recorded in order: a later use always sorts after an earlier one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openlinq.domain.accounts import AccountService
from openlinq.domain.clock import ManualClock
from openlinq.domain.models import Line
from openlinq.store.unit import Storage

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)


async def _lines(storage: Storage) -> tuple[Line, Line]:
    accounts = AccountService(storage, ManualClock())
    account, _ = await accounts.create_account("acme")
    first = await accounts.add_line(account.id, "+14155550001")
    second = await accounts.add_line(account.id, "+14155550002")
    return first, second


async def _touch(storage: Storage, line: Line, at: datetime) -> datetime | None:
    async with storage.write() as repos:
        await repos.lines.touch(line.id, at)
    async with storage.read() as repos:
        touched = await repos.lines.get(line.account_id, line.id)
    assert touched is not None
    return touched.last_used_at


async def test_a_use_after_every_other_is_recorded_at_its_time(storage: Storage) -> None:
    first, second = await _lines(storage)
    assert await _touch(storage, first, T0) == T0
    assert await _touch(storage, second, T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=1)


async def test_uses_in_one_tick_or_with_a_lagging_clock_still_sort_in_order(
    storage: Storage,
) -> None:
    first, second = await _lines(storage)
    await _touch(storage, first, T0)
    assert await _touch(storage, second, T0) == T0 + TICK  # the same instant
    assert await _touch(storage, first, T0 - timedelta(seconds=5)) == T0 + 2 * TICK  # behind
