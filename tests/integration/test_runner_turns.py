"""The background runner shares the event loop with the API: a claimed batch starts one job
per turn of the loop, so the requests that arrive meanwhile are served between two jobs,
not after the whole batch (on SQLite a handler may well never yield on its own)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from openlinq.domain.clock import ManualClock
from openlinq.jobs.runner import JobQueue, JobRunner
from openlinq.store.unit import Storage

pytestmark = pytest.mark.anyio

JOBS = 8


async def test_a_claimed_batch_starts_one_job_per_turn_of_the_loop(storage: Storage) -> None:
    loop = asyncio.get_running_loop()
    turns = 0
    ticking = True

    def tick() -> None:  # runs once in every turn of the loop
        nonlocal turns
        turns += 1
        if ticking:
            loop.call_soon(tick)

    started_in: list[int] = []
    all_ran = asyncio.Event()

    async def job(_payload: dict[str, Any]) -> None:  # awaits nothing, like a quick handler
        started_in.append(turns)
        if len(started_in) == JOBS:
            all_ran.set()

    clock = ManualClock()
    runner = JobRunner(storage, clock, batch_size=JOBS)
    runner.register("quick", job)
    async with storage.write() as repos:
        await JobQueue(clock).schedule_many(repos, "quick", [{"n": n} for n in range(JOBS)])
    loop.call_soon(tick)
    background = asyncio.create_task(runner.run_forever())
    try:
        await asyncio.wait_for(all_ran.wait(), timeout=30)
    finally:
        ticking = False
        background.cancel()
        await asyncio.gather(background, return_exceptions=True)
    assert len(set(started_in)) == JOBS, started_in
