"""settle counts the jobs this process is already running: the background loop may take a
due job (a webhook's POST) a moment before settle's own drain looks for it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openlinq.config import Settings
from openlinq.domain.clock import SystemClock
from openlinq.jobs.runner import JobQueue
from openlinq.wiring import Services, build_services, start, stop

pytestmark = pytest.mark.anyio


@pytest.fixture
async def services(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    """Every service on a real clock: settle drains once and cannot step the clock."""
    built = build_services(
        Settings(database_url=fresh_database_url, data_dir=tmp_path, clock="real"), SystemClock()
    )
    await start(built)
    yield built
    await stop(built)


async def test_settle_waits_for_a_job_the_background_loop_is_running(services: Services) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    ran: list[str] = []
    queue = JobQueue(services.clock)
    queue.on_enqueue(services.runner.wake)  # as wiring does: the loop takes it at once

    async def slow(_: dict[str, Any]) -> None:
        started.set()
        await release.wait()
        async with services.storage.write() as repos:  # what it schedules settles too
            await queue.schedule(repos, "test.after", {})

    async def after(_: dict[str, Any]) -> None:
        ran.append("after")

    services.runner.register("test.slow", slow)
    services.runner.register("test.after", after)
    background = asyncio.create_task(services.runner.run_forever())
    try:
        async with services.storage.write() as repos:
            await queue.schedule(repos, "test.slow", {})
        await asyncio.wait_for(started.wait(), 5)  # the background loop has it
        settling = asyncio.create_task(services.harness.settle(0))
        for _ in range(100):  # turns of the event loop, no wall-clock time
            await asyncio.sleep(0)
        assert not settling.done()
        release.set()
        settled = await asyncio.wait_for(settling, 10)
        assert ran == ["after"]
        assert settled.pending == 0
    finally:
        background.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await background
