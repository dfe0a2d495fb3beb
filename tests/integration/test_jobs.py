"""The durable job queue on a real database: due times, backoff, burial, leases, no double runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from openlinq.domain.clock import ManualClock
from openlinq.domain.tracing import current_trace_id, reset_trace_id, set_trace_id
from openlinq.jobs.runner import MAX_ATTEMPTS, MAX_BACKOFF_SECONDS, JobQueue, JobRunner
from openlinq.store.engine import Database
from openlinq.store.migrate import upgrade_to_head
from openlinq.store.repos.jobs import Job
from openlinq.store.tables import jobs
from openlinq.store.unit import Storage

pytestmark = pytest.mark.anyio

Handler = Callable[[dict[str, Any]], Awaitable[None]]
LEASE = 30.0


@dataclass
class Queue:
    """One database, a manual clock, and helpers to schedule work and look at its rows."""

    url: str
    storage: Storage
    clock: ManualClock = field(default_factory=ManualClock)
    extra: list[Database] = field(default_factory=list)

    @property
    def queue(self) -> JobQueue:
        return JobQueue(self.clock)

    def runner(
        self, handlers: dict[str, Handler], *, own_database: bool = False, batch_size: int = 32
    ) -> JobRunner:
        """A runner; ``own_database`` gives it its own engine, like another process has."""
        storage = self.storage
        if own_database:
            db = Database(self.url)
            self.extra.append(db)
            storage = Storage(db)
        runner = JobRunner(storage, self.clock, lease_seconds=LEASE, batch_size=batch_size)
        for kind, handler in handlers.items():
            runner.register(kind, handler)
        return runner

    async def schedule(self, kind: str, payload: dict[str, Any], delay: float = 0.0) -> None:
        async with self.storage.write() as repos:
            await self.queue.schedule(repos, kind, payload, delay=delay)

    async def rows(self) -> list[Any]:
        async with self.storage.read() as repos:
            return list(await repos.conn.execute(select(jobs).order_by(jobs.c.created_at)))

    async def only_row(self) -> Any:
        (row,) = await self.rows()
        return row


@pytest.fixture
async def q(migrated_database_url: str) -> AsyncIterator[Queue]:
    db = Database(migrated_database_url)
    await upgrade_to_head(db)
    harness = Queue(migrated_database_url, Storage(db))
    yield harness
    for extra in harness.extra:
        await extra.dispose()
    await db.dispose()


def recorder(ran: list[Any], key: str = "n") -> Handler:
    async def handler(payload: dict[str, Any]) -> None:
        ran.append(payload[key])

    return handler


async def test_a_job_runs_when_due_and_not_before(q: Queue) -> None:
    ran: list[str] = []
    runner = q.runner({"test.timed": recorder(ran)})
    await q.schedule("test.timed", {"n": "a"}, delay=5)
    assert await runner.run_due() == 0
    q.clock.advance(4.9)
    assert await runner.run_due() == 0
    assert ran == []
    q.clock.advance(0.1)
    assert await runner.run_due() == 1
    assert ran == ["a"]
    assert await q.rows() == []  # a finished job is deleted
    q.clock.advance(3600)
    assert await runner.run_due() == 0
    assert ran == ["a"]


async def test_due_jobs_run_in_order_of_their_due_time(q: Queue) -> None:
    ran: list[int] = []
    runner = q.runner({"test.order": recorder(ran)})  # claimed and started in run_at order
    for n, delay in enumerate([3.0, 1.0, 2.0]):
        await q.schedule("test.order", {"n": n}, delay=delay)
    q.clock.advance(3)
    await runner.run_due()
    assert ran == [1, 2, 0]


async def test_work_that_becomes_due_while_draining_runs_in_the_same_drain(q: Queue) -> None:
    ran: list[str] = []

    async def chain(payload: dict[str, Any]) -> None:
        ran.append(payload["n"])
        if payload["n"] == "first":
            async with q.storage.write() as repos:
                await q.queue.schedule(repos, "test.chain", {"n": "now"})
                await q.queue.schedule(repos, "test.chain", {"n": "later"}, delay=1)

    runner = q.runner({"test.chain": chain})
    await q.schedule("test.chain", {"n": "first"})
    assert await runner.run_due() == 2
    assert ran == ["first", "now"]
    q.clock.advance(1)
    await runner.run_due()
    assert ran == ["first", "now", "later"]


async def test_a_failing_job_backs_off_exponentially_then_is_buried(q: Queue) -> None:
    calls: list[int] = []

    async def failing(_: dict[str, Any]) -> None:
        calls.append(len(calls) + 1)
        raise RuntimeError(f"boom {len(calls)}")

    runner = q.runner({"test.failing": failing})
    await q.schedule("test.failing", {})
    expected_delays = [min(2.0**n, MAX_BACKOFF_SECONDS) for n in range(1, MAX_ATTEMPTS)]
    assert expected_delays[:4] == [2, 4, 8, 16]
    for attempt, delay in enumerate(expected_delays, start=1):
        assert await runner.run_due() == 1
        row = await q.only_row()
        assert (row.attempts, row.last_error) == (attempt, f"RuntimeError: boom {attempt}")
        assert row.run_at - q.clock.now() == timedelta(seconds=delay)
        assert (row.locked_by, row.locked_until, row.dead_at) == (None, None, None)
        q.clock.advance(delay - 0.5)
        assert await runner.run_due() == 0  # not before its backoff
        q.clock.advance(0.5)
    assert await runner.run_due() == 1  # the last attempt
    buried = await q.only_row()
    assert (buried.attempts, buried.dead_at) == (MAX_ATTEMPTS, q.clock.now())
    assert buried.last_error == f"RuntimeError: boom {MAX_ATTEMPTS}"
    q.clock.advance(24 * 3600)
    assert await runner.run_due() == 0
    assert calls == list(range(1, MAX_ATTEMPTS + 1))
    async with q.storage.read() as repos:
        assert await repos.jobs.pending_of_kind("test.failing") == 0


async def test_a_job_recovers_after_a_failure(q: Queue) -> None:
    outcomes = iter([RuntimeError("transient"), None])
    ran: list[str] = []

    async def flaky(payload: dict[str, Any]) -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        ran.append(payload["n"])

    runner = q.runner({"test.flaky": flaky})
    await q.schedule("test.flaky", {"n": "ok"})
    await runner.run_due()
    assert (await q.only_row()).last_error == "RuntimeError: transient"
    q.clock.advance(2)
    await runner.run_due()
    assert ran == ["ok"]
    assert await q.rows() == []


async def test_a_kind_no_handler_knows_waits_for_a_runner_that_knows_it(q: Queue) -> None:
    """Runners claim only their own kinds: work a newer version added is never burnt."""
    ran: list[str] = []
    old = q.runner({"test.known": recorder(ran)})
    await q.schedule("test.unknown", {"n": "new"})
    for _ in range(MAX_ATTEMPTS + 2):
        assert await old.run_due() == 0
        q.clock.advance(MAX_BACKOFF_SECONDS)
    waiting = await q.only_row()
    assert (waiting.attempts, waiting.dead_at, waiting.locked_by) == (0, None, None)
    new = q.runner({"test.unknown": recorder(ran)})
    assert await new.run_due() == 1
    assert ran == ["new"]


async def test_an_expired_lease_is_taken_over_by_another_runner(q: Queue) -> None:
    ran: list[str] = []
    await q.schedule("test.lease", {"n": "x"})
    async with q.storage.write() as repos:  # runner A claims it, then "crashes"
        claimed = await repos.jobs.claim(
            "runner-a", q.clock.now(), timedelta(seconds=LEASE), 10, ["test.lease"]
        )
    assert [job.payload for job in claimed] == [{"n": "x"}]
    runner_b = q.runner({"test.lease": recorder(ran)})
    assert await runner_b.run_due() == 0  # still leased to A
    q.clock.advance(LEASE)
    assert await runner_b.run_due() == 0  # the lease runs out at, not before, its end
    q.clock.advance(0.5)
    assert await runner_b.run_due() == 1
    assert ran == ["x"]
    assert await q.rows() == []


async def test_a_crashed_claim_counts_as_an_attempt(q: Queue) -> None:
    async def failing(_: dict[str, Any]) -> None:
        raise RuntimeError("still broken")

    await q.schedule("test.crash", {})
    async with q.storage.write() as repos:
        await repos.jobs.claim("runner-a", q.clock.now(), timedelta(seconds=LEASE), 10)
    q.clock.advance(LEASE + 1)
    await q.runner({"test.crash": failing}).run_due()
    row = await q.only_row()
    assert row.attempts == 2
    assert row.run_at - q.clock.now() == timedelta(seconds=4)  # backoff of a second failure


async def test_two_runners_draining_concurrently_never_run_a_job_twice(q: Queue) -> None:
    ran: list[tuple[str, int]] = []

    def handler(name: str) -> Handler:
        async def run(payload: dict[str, Any]) -> None:
            await asyncio.sleep(0)  # let the other runner interleave
            ran.append((name, payload["n"]))

        return run

    async with q.storage.write() as repos:
        for n in range(200):
            await q.queue.schedule(repos, "test.shared", {"n": n})
    # PostgreSQL: an engine each, like two processes. SQLite has one writer process by design.
    separate = not q.storage.db.is_sqlite
    first = q.runner({"test.shared": handler("first")}, own_database=separate, batch_size=8)
    second = q.runner({"test.shared": handler("second")}, own_database=separate, batch_size=8)
    counts = await asyncio.gather(first.run_due(), second.run_due())
    numbers = [n for _, n in ran]
    assert sorted(numbers) == list(range(200))  # all ran, none twice
    assert sum(counts) == 200
    assert {name for name, _ in ran} == {"first", "second"}  # both really drained
    assert await q.rows() == []


async def test_jobs_scheduled_in_a_rolled_back_transaction_never_run(q: Queue) -> None:
    ran: list[str] = []
    woken: list[str] = []
    queue = q.queue
    queue.on_enqueue(lambda: woken.append("wake"))
    runner = q.runner({"test.rollback": recorder(ran)})

    async def failing_change() -> None:
        async with q.storage.write() as repos:
            await queue.schedule(repos, "test.rollback", {"n": "lost"})
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError, match="the change failed"):
        await failing_change()
    assert woken == []  # nobody is woken for work that does not exist
    assert await q.rows() == []
    q.clock.advance(3600)
    assert await runner.run_due() == 0

    async with q.storage.write() as repos:
        await queue.schedule(repos, "test.rollback", {"n": "kept"})
    assert woken == ["wake"]
    await runner.run_due()
    assert ran == ["kept"]


async def test_a_job_runs_under_the_trace_that_scheduled_it(q: Queue) -> None:
    traces: list[str] = []

    async def handler(_: dict[str, Any]) -> None:
        traces.append(current_trace_id())

    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    token = set_trace_id(trace)
    try:
        await q.schedule("test.trace", {})
    finally:
        reset_trace_id(token)
    await q.runner({"test.trace": handler}).run_due()
    assert traces == [trace]


class CountingRunner(JobRunner):
    """Counts the claim transactions the background loop makes."""

    claims = 0

    async def _finish_and_claim(self, limit: int) -> list[Job]:
        self.claims += 1
        return await super()._finish_and_claim(limit)


async def test_the_background_loop_waits_while_its_only_job_runs(q: Queue) -> None:
    """A running job is due already but not claimable: an idle runner waits for it to
    finish (or for new work), it does not claim again and again meanwhile."""
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(_: dict[str, Any]) -> None:
        started.set()
        await release.wait()

    runner = CountingRunner(q.storage, q.clock, lease_seconds=LEASE)
    runner.register("test.slow", slow)
    await q.schedule("test.slow", {})
    loop = asyncio.create_task(runner.run_forever())
    try:
        await asyncio.wait_for(started.wait(), 5)
        claims = runner.claims
        for _ in range(200):  # plenty of turns of the event loop, no wall-clock time
            await asyncio.sleep(0)
        assert runner.claims - claims <= 1
        release.set()
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
