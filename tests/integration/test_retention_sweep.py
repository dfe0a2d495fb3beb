"""The retention sweep shares the event loop with the API: it works in small batches,
lets waiting requests in between them, and splits a large backlog into short runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from openlinq.app import create_app
from openlinq.config import Settings
from openlinq.domain import retention
from openlinq.domain.clock import ManualClock
from openlinq.domain.parts import build_content
from openlinq.store.tables import jobs, messages, rate_hits
from openlinq.wiring import Services, build_services, start, stop

pytestmark = pytest.mark.anyio

KEY = "olq_retention_sweep_test_key_0123456789"
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
# Small batches keep the tests of how a backlog is split fast.
SMALL_BATCH = 10


@dataclass
class Sweeping:
    services: Services
    client: httpx.AsyncClient
    chat_id: str
    account_id: str
    message_id: str  # a message that does not expire


@pytest.fixture
async def sweeping(migrated_database_url: str, tmp_path: Path) -> AsyncIterator[Sweeping]:
    settings = Settings(
        database_url=migrated_database_url, data_dir=tmp_path, clock="manual", dev_api_key=KEY
    )
    services = build_services(settings, ManualClock(NOW))
    app = create_app(settings, services)  # its lifespan is not run: start() below is
    sandbox = await start(services)
    assert sandbox is not None
    kept = await services.messaging.create_chat(
        sandbox.account,
        sandbox.lines[0].phone_number,
        ["+14155550000"],
        build_content({"parts": [{"type": "text", "value": "kept"}]}),
        "sweep-test",
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://openlinq.test/api/partner/v3",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as client:
        yield Sweeping(services, client, kept.chat.id, sandbox.account.id, kept.message.id)
    await stop(services)


async def _expired(sweeping: Sweeping, count: int) -> None:
    """``count`` messages past their expiry, written straight to the table."""
    then = NOW - timedelta(hours=30)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "account_id": sweeping.account_id,
            "chat_id": sweeping.chat_id,
            "direction": "outbound",
            "sender_handle": "+12025550180",
            "parts": [{"type": "text", "value": f"gone {n}"}],
            "service": "iMessage",
            "delivery_status": "delivered",
            "created_at": then,
            "updated_at": then,
            "expires_at": NOW - timedelta(hours=6),
            "extra": {},
        }
        for n in range(count)
    ]
    async with sweeping.services.db.transaction() as conn:
        await conn.execute(messages.insert(), rows)


async def _left(sweeping: Sweeping) -> int:
    """Expired messages not purged yet."""
    async with sweeping.services.db.read() as conn:
        counted = await conn.execute(
            select(func.count())
            .select_from(messages)
            .where(messages.c.expires_at <= NOW, messages.c.deleted_at.is_(None))
        )
        return int(counted.scalar_one())


async def _next_sweeps(sweeping: Sweeping) -> list[datetime]:
    async with sweeping.services.db.read() as conn:
        rows = await conn.execute(
            select(jobs.c.run_at).where(
                jobs.c.kind == retention.PURGE_JOB, jobs.c.dead_at.is_(None)
            )
        )
        return [r.run_at for r in rows]


async def test_a_request_is_answered_between_small_batches(
    sweeping: Sweeping, backend: str
) -> None:
    # On SQLite a batch runs on the event loop: the rows a request waits for are the cost.
    total = 6_000
    await _expired(sweeping, total)
    assert (await sweeping.client.get(f"/messages/{sweeping.message_id}")).status_code == 200

    sweep = asyncio.create_task(sweeping.services.sweeper.sweep({}))
    await asyncio.sleep(0)  # the sweep starts, and the loop goes on after its first batch
    answer = await sweeping.client.get(f"/messages/{sweeping.message_id}")

    assert answer.status_code == 200
    assert not sweep.done(), "the request waited for the whole sweep"
    purged_before_the_answer = total - await _left(sweeping)
    # It came in between two batches, a few small ones into the sweep.
    assert purged_before_the_answer % sweeping.services.sweeper.batch == 0
    assert purged_before_the_answer < total // 2
    if backend == "sqlite":  # PostgreSQL's statements never held the loop in the first place
        assert purged_before_the_answer > 0
    await sweep
    assert await _left(sweeping) == 0


async def test_a_large_backlog_is_purged_in_short_runs(
    sweeping: Sweeping, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeping.services.sweeper.batch = SMALL_BATCH
    monkeypatch.setattr(retention, "BATCHES_PER_RUN", 3)
    share = 3 * SMALL_BATCH
    await _expired(sweeping, 2 * share + 5)
    scheduled = await _next_sweeps(sweeping)  # the one queued at start, in a minute

    await sweeping.services.sweeper.sweep({})
    assert await _left(sweeping) == share + 5  # one run purges its share, no more
    assert sorted(await _next_sweeps(sweeping)) == sorted([*scheduled, NOW])  # and comes back now

    await sweeping.services.sweeper.sweep({})
    await sweeping.services.sweeper.sweep({})
    assert await _left(sweeping) == 0
    later = NOW + timedelta(seconds=retention.SWEEP_EVERY_SECONDS)
    assert sorted(await _next_sweeps(sweeping)) == sorted([*scheduled, NOW, NOW, later])


async def test_old_rate_limit_hits_go_in_batches_and_recent_ones_stay(
    sweeping: Sweeping, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeping.services.sweeper.batch = SMALL_BATCH
    old = NOW - retention.LONGEST_LIMIT_WINDOW - timedelta(minutes=1)
    recent = NOW - timedelta(hours=1)
    async with sweeping.services.db.transaction() as conn:
        await conn.execute(rate_hits.delete())  # hits are counted in time order: start afresh
        await conn.execute(
            rate_hits.insert(),
            [{"key": "pair:a", "at": old}] * (2 * SMALL_BATCH + 3)
            + [{"key": "pair:a", "at": recent}] * 4,
        )
    async with sweeping.services.storage.write() as repos:
        assert (
            await repos.rates.forget_before(NOW - retention.LONGEST_LIMIT_WINDOW, SMALL_BATCH)
            == SMALL_BATCH
        )

    await sweeping.services.sweeper.sweep({})

    async with sweeping.services.db.read() as conn:
        left = (await conn.execute(select(rate_hits.c.at))).scalars().all()
    assert left == [recent] * 4
