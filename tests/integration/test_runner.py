"""The durable job runner on a real database: timing, retries, leases, no double runs."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from openlinq.config import Settings
from openlinq.domain.clock import ManualClock
from openlinq.jobs.runner import MAX_ATTEMPTS, JobQueue, JobRunner
from openlinq.wiring import Services, build_services, start, stop

pytestmark = pytest.mark.anyio


@pytest.fixture
async def services(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    built = build_services(
        Settings(database_url=fresh_database_url, data_dir=tmp_path, clock="manual"), ManualClock()
    )
    await start(built)
    yield built
    await stop(built)


def _runner(services: Services, kind: str, handler: Any) -> JobRunner:
    runner = JobRunner(services.storage, services.clock, lease_seconds=30)
    runner.register(kind, handler)
    return runner


async def _schedule(
    services: Services, kind: str, payload: dict[str, Any], delay: float = 0
) -> None:
    queue = JobQueue(services.clock)
    async with services.storage.write() as repos:
        await queue.schedule(repos, kind, payload, delay=delay)


def _clock(services: Services) -> ManualClock:
    assert isinstance(services.clock, ManualClock)
    return services.clock


async def test_a_job_runs_when_due_and_not_before(services: Services) -> None:
    ran: list[str] = []

    async def handler(payload: dict[str, Any]) -> None:
        ran.append(payload["n"])

    runner = _runner(services, "test.timed", handler)
    await _schedule(services, "test.timed", {"n": "a"}, delay=5)
    assert await runner.run_due() == 0
    _clock(services).advance(4.9)
    await runner.run_due()
    assert ran == []
    _clock(services).advance(0.1)
    await runner.run_due()
    assert ran == ["a"]
    _clock(services).advance(60)
    await runner.run_due()
    assert ran == ["a"]  # done jobs are gone


async def test_failures_back_off_exponentially_then_are_buried(services: Services) -> None:
    attempts: list[float] = []
    start_at = _clock(services).now()

    async def handler(_: dict[str, Any]) -> None:
        attempts.append((_clock(services).now() - start_at).total_seconds())
        raise RuntimeError("always failing")

    runner = _runner(services, "test.failing", handler)
    await _schedule(services, "test.failing", {})
    for _ in range(2000):
        await runner.run_due()
        _clock(services).advance(1)
    assert len(attempts) == MAX_ATTEMPTS
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[:4] == [2, 4, 8, 16]  # 2^attempt seconds, on a 1 s grid
    async with services.storage.read() as repos:
        assert await repos.jobs.pending_of_kind("test.failing") == 0  # buried: never again
    _clock(services).advance(3600)
    await runner.run_due()
    assert len(attempts) == MAX_ATTEMPTS


async def test_an_abandoned_lease_is_taken_over(services: Services) -> None:
    ran: list[str] = []

    async def handler(payload: dict[str, Any]) -> None:
        ran.append(payload["n"])

    await _schedule(services, "test.lease", {"n": "x"})
    async with services.storage.write() as repos:  # a worker claims it, then "crashes"
        claimed = await repos.jobs.claim(
            "dead-worker", _clock(services).now(), timedelta(seconds=30), 10
        )
    assert [job.payload for job in claimed if job.kind == "test.lease"] == [{"n": "x"}]
    survivor = _runner(services, "test.lease", handler)
    await survivor.run_due()
    assert ran == []  # still leased
    _clock(services).advance(31)
    await survivor.run_due()
    assert ran == ["x"]


async def test_two_runners_never_run_a_job_twice(services: Services) -> None:
    ran: list[int] = []

    async def handler(payload: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # let the other runner interleave
        ran.append(payload["n"])

    for n in range(200):
        await _schedule(services, "test.shared", {"n": n})
    first = _runner(services, "test.shared", handler)
    second = _runner(services, "test.shared", handler)
    await asyncio.gather(first.run_due(), second.run_due())
    assert sorted(ran) == list(range(200))


async def test_work_scheduled_in_a_rolled_back_transaction_never_runs(services: Services) -> None:
    ran: list[str] = []

    async def handler(payload: dict[str, Any]) -> None:
        ran.append(payload["n"])

    runner = _runner(services, "test.rollback", handler)
    queue = JobQueue(services.clock)

    async def failing_change() -> None:
        async with services.storage.write() as repos:
            await queue.schedule(repos, "test.rollback", {"n": "lost"})
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError, match="the change failed"):
        await failing_change()
    await runner.run_due()
    assert ran == []
