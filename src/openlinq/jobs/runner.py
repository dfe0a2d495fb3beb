"""Claims due jobs, runs their handlers, retries failures with backoff.

Every deferred piece of work (a carrier send, a simulated receipt, a reply) is a
row in ``jobs``, written in the transaction that caused it; this runner is what
turns rows into effects. With a manual clock, ``run_due`` drains everything due
so tests and the simulator's clock API are deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from openlinq import metrics
from openlinq.domain.clock import Clock, ManualClock
from openlinq.domain.ids import JobId
from openlinq.domain.tracing import current_trace_id, reset_trace_id, set_trace_id
from openlinq.store.repos import Repos
from openlinq.store.repos.jobs import Job, PendingJob
from openlinq.store.unit import Storage

log = logging.getLogger(__name__)

JobHandler = Callable[[dict[str, Any]], Awaitable[None]]

MAX_ATTEMPTS = 10
MAX_BACKOFF_SECONDS = 300.0
# One drain never runs more rounds than this, so a job that keeps rescheduling
# itself "now" cannot wedge the clock API.
MAX_ROUNDS = 1_000


class JobQueue:
    """Schedules work inside the caller's transaction and wakes runners after commit."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._listeners: list[Callable[[], None]] = []

    def on_enqueue(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    async def schedule(
        self, repos: Repos, kind: str, payload: dict[str, Any], delay: float = 0.0
    ) -> None:
        await self.schedule_many(repos, kind, [payload], delay)

    async def schedule_many(
        self, repos: Repos, kind: str, payloads: list[dict[str, Any]], delay: float = 0.0
    ) -> None:
        """Several jobs of one kind, due together, written in one statement."""
        if not payloads:
            return
        run_at = self.clock.now() + timedelta(seconds=delay)
        if len(payloads) == 1:
            await repos.jobs.enqueue(kind, payloads[0], run_at, current_trace_id())
        else:
            await repos.jobs.enqueue_many(kind, payloads, run_at, current_trace_id())
        await repos.jobs.notify()
        for listener in self._listeners:
            repos.after_commit(listener)


# A manual clock moved by a month still stops at each due job; this bounds a pathological queue.
MAX_CLOCK_STEPS = 10_000


class JobRunner:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        *,
        lease_seconds: float = 60.0,
        batch_size: int = 32,
        concurrency: int = 32,
        idle_poll_seconds: float = 1.0,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.worker_id = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self._handlers: dict[str, JobHandler] = {}
        self._wake = asyncio.Event()
        self.concurrency = concurrency
        self._finished: list[JobId] = []
        self._slots = asyncio.Semaphore(concurrency)
        self._drain_lock = asyncio.Lock()
        self._running = 0  # claimed jobs whose handlers have not returned
        self._quiet = asyncio.Event()  # set while no claimed job is running
        self._quiet.set()

    async def run_through(
        self, clock: ManualClock, until: datetime, step_over: tuple[str, ...] = ()
    ) -> int:
        """Move a manual clock to ``until`` one due time at a time, so each job runs at its
        own time and the work it schedules inside the window runs too (a delivery, then the
        read a second later, then the reply). Jobs of ``step_over`` kinds (periodic sweeps)
        do not stop the clock; they run once it is there."""
        ran = await self.run_due()
        for _ in range(MAX_CLOCK_STEPS):
            async with self.storage.read() as repos:
                next_at = await repos.jobs.next_run_at(exclude_kinds=step_over)
            if next_at is None or next_at > until:
                break
            stuck = next_at <= clock.now()
            clock.advance(max(0.0, (next_at - clock.now()).total_seconds()))
            ran_now = await self.run_due()
            if stuck and not ran_now:
                break  # due but not runnable here (leased elsewhere): nothing more happens now
            ran += ran_now
        clock.advance(max(0.0, (until - clock.now()).total_seconds()))
        return ran + await self.run_due()

    async def pending(self, limit: int) -> tuple[int, list[PendingJob]]:
        """The queue as an operator sees it: how many jobs wait, and the next ``limit``."""
        async with self.storage.read() as repos:
            return await repos.jobs.pending(limit)

    def register(self, kind: str, handler: JobHandler) -> None:
        if kind in self._handlers:
            raise ValueError(f"job kind {kind!r} registered twice")
        self._handlers[kind] = handler

    def wake(self) -> None:
        self._wake.set()

    async def run_due(self) -> int:
        """Run every job due now, including ones that become due while running."""
        ran = 0
        async with self._drain_lock, self._keeping_leases():
            for _ in range(MAX_ROUNDS):
                claimed = await self._finish_and_claim(self.batch_size)
                if not claimed:
                    break
                await asyncio.gather(*(self._start(job) for job in claimed))
                ran += len(claimed)
        return ran

    @property
    def running(self) -> int:
        """Jobs this process claimed whose handlers have not returned."""
        return self._running

    async def until_quiet(self, seconds: float) -> bool:
        """Wait until no job this process claimed is running (at most ``seconds``);
        whether that happened. What settles a real clock: the background loop may have
        claimed a due job a moment before ``run_due`` looked."""
        try:
            await asyncio.wait_for(self._quiet.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def complete_finished(self) -> None:
        """Delete the jobs that finished since the last claim now (the next claim would),
        so a count of the queue does not see them."""
        finished, self._finished = self._finished, []
        if not finished:
            return
        try:
            async with self.storage.write() as repos:
                await repos.jobs.complete_many(finished, self.worker_id)
        except BaseException:
            self._finished.extend(finished)
            raise

    def _start(self, job: Job) -> asyncio.Task[None]:
        """Run a claimed job in a task; it counts off when the task ends, even if it is
        cancelled before it starts (a task's ``finally`` would not run then)."""
        task = asyncio.create_task(self._run(job), name=f"job-{job.kind}")
        task.add_done_callback(self._count_off)
        return task

    def _count_off(self, _: asyncio.Task[None]) -> None:
        self._running -= 1
        if not self._running:
            self._quiet.set()

    async def _run(self, job: Job) -> None:
        async with self._slots:
            await self._handle(job)

    async def _handle(self, job: Job) -> None:
        token = set_trace_id(job.trace_id)
        try:
            handler = self._handlers.get(job.kind)
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            await handler(job.payload)
        except Exception as exc:
            metrics.job_finished(job.kind, ok=False)
            await self._fail(job, exc)
        else:
            metrics.job_finished(job.kind, ok=True)
            # Deleted with the next claim, in its transaction: one write fewer per job.
            # A crash before then runs the job again, which handlers tolerate.
            self._finished.append(job.id)
        finally:
            reset_trace_id(token)

    @contextlib.asynccontextmanager
    async def _keeping_leases(self) -> AsyncIterator[None]:
        """Renew this runner's leases every third of a lease while the block runs.

        A lease only says "this worker is alive"; a job may well run longer than one
        (a slow webhook endpoint). Without renewal another worker, or this one, would
        take a running job over and do it twice. A dead worker stops renewing, so its
        jobs are still taken over when its leases run out.
        """
        heartbeat = asyncio.create_task(self._heartbeat(), name="openlinq-job-leases")
        try:
            yield
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            if not (self._running or self._finished):
                continue  # nothing leased: no write
            try:
                async with self.storage.write() as repos:
                    await repos.jobs.renew_leases(self.worker_id, self.clock.now() + self.lease)
            except Exception:  # a lost connection must not end the heartbeat
                log.exception("renewing job leases failed")

    async def _fail(self, job: Job, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        now = self.clock.now()
        async with self.storage.write() as repos:
            if job.attempts >= MAX_ATTEMPTS:
                log.error("job %s (%s) failed for good: %s", job.id, job.kind, error)
                await repos.jobs.bury(job.id, now, error)
            else:
                delay = min(2.0**job.attempts, MAX_BACKOFF_SECONDS)
                log.warning(
                    "job %s (%s) failed, retry in %.0fs: %s", job.id, job.kind, delay, error
                )
                await repos.jobs.retry(job.id, now + timedelta(seconds=delay), error)

    async def run_forever(self) -> None:
        """The background loop: keep up to ``concurrency`` jobs running, claiming as slots free.

        Unlike ``run_due`` it never waits for a whole batch, so one slow job (a
        webhook endpoint that hangs until its timeout) never holds up the others.
        """
        running: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            running.discard(task)
            self._wake.set()

        try:
            async with self._keeping_leases():
                await self._claim_and_run(running, finished)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _claim_and_run(
        self,
        running: set[asyncio.Task[None]],
        finished: Callable[[asyncio.Task[None]], None],
    ) -> None:
        while True:
            self._wake.clear()
            free = self.concurrency - len(running)
            claimed: list[Job] = []
            if free > 0:
                claimed = await self._claim_safely(min(free, self.batch_size))
            for job in claimed:
                task = self._start(job)
                running.add(task)
                task.add_done_callback(finished)
                # One job's start per turn of the loop: started together, a batch's handlers
                # would all run in one turn (on SQLite they may not yield at all), holding
                # every request that arrived meanwhile for the whole batch.
                await asyncio.sleep(0)
            if claimed and len(claimed) == min(free, self.batch_size):
                continue  # there may be more due work
            await self._idle(free > 0)

    async def _finish_and_claim(self, limit: int) -> list[Job]:
        finished, self._finished = self._finished, []
        try:
            async with self.storage.write() as repos:
                await repos.jobs.complete_many(finished, self.worker_id)
                # Only kinds this runner can run: a job a newer version added waits for it.
                claimed = await repos.jobs.claim(
                    self.worker_id, self.clock.now(), self.lease, limit, list(self._handlers)
                )
        except BaseException:
            self._finished.extend(finished)
            raise
        if claimed:  # leased from here on; each is _start-ed next, and counts off when done
            self._running += len(claimed)
            self._quiet.clear()
        return claimed

    async def _claim_safely(self, limit: int) -> list[Job]:
        try:
            return await self._finish_and_claim(limit)
        except Exception:  # a lost database connection must not end the loop
            log.exception("claiming jobs failed")
            return []

    async def _idle(self, can_claim: bool) -> None:
        """Sleep until woken, until the next job is due, or for the idle poll at most."""
        timeout = self.idle_poll_seconds
        if can_claim:
            try:
                async with self.storage.read() as repos:
                    # Not next_run_at: a job running here (or done, awaiting deletion) is
                    # due already, and waking for it would spin claim after empty claim.
                    next_at = await repos.jobs.next_claimable_at(self.clock.now())
            except Exception:
                log.exception("reading the next due job failed")
                next_at = None
            if next_at is not None:
                timeout = max(0.0, min(timeout, (next_at - self.clock.now()).total_seconds()))
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns instead of raising
        # when the task is cancelled just as the wake-up comes, and the loop would go on.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
