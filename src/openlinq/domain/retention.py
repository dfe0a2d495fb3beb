"""Retention: the ephemeral tier purges messages a fixed time after they were created.

An account or a line can be ephemeral (``retention_hours``, default window 24 h
when turned on). A message gets ``expires_at`` when it is created; a recurring
job scrubs expired messages in batches (content and attachments gone, metadata
kept, 404 everywhere afterwards, no webhook). The window is a minimum: the
sweep runs every minute.

The sweep shares the process with the API. On SQLite a statement runs on the event
loop (store/sqlite_sync.py), so a batch holds up every request while it runs: batches
are small (a few milliseconds each) and the sweep yields to the loop between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from openlinq.blobs.store import BlobStore
from openlinq.domain.clock import Clock
from openlinq.domain.ids import AttachmentId
from openlinq.domain.models import Account, Line
from openlinq.jobs.runner import JobQueue
from openlinq.store.unit import Storage

PURGE_JOB = "retention.purge"
SWEEP_EVERY_SECONDS = 60.0
# Rows per transaction. On SQLite statements run on the event loop (store/sqlite_sync.py)
# and scrubbing a message costs 30-50 µs, so a batch of 100 holds the loop a few milliseconds
# (bench/purge.py: p99 5 ms on a busy 2-core machine, where 5,000 held it 0.14-0.25 s and
# every request waited). PostgreSQL's statements leave the loop free: larger batches there
# purge faster.
SQLITE_BATCH = 100
BATCH = 1000
# A run does at most this many batches, then queues the next run at once: a backlog of a
# million rows becomes many short jobs, each far inside its lease.
BATCHES_PER_RUN = 100
LONGEST_LIMIT_WINDOW = timedelta(days=1)


def expiry(account: Account, line: Line, created_at: datetime) -> datetime | None:
    hours = line.retention_hours if line.retention_hours is not None else account.retention_hours
    return created_at + timedelta(hours=hours) if hours else None


class RetentionSweeper:
    def __init__(
        self, storage: Storage, clock: Clock, queue: JobQueue, blobs: BlobStore, batch: int = BATCH
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.queue = queue
        self.blobs = blobs
        self.batch = batch

    async def ensure_scheduled(self) -> None:
        """Make sure exactly one sweep is queued (called at start by every process)."""
        async with self.storage.write() as repos:
            await repos.locks.hold(PURGE_JOB)
            if not await repos.jobs.pending_of_kind(PURGE_JOB):
                await self.queue.schedule(repos, PURGE_JOB, {}, delay=SWEEP_EVERY_SECONDS)

    async def sweep(self, _: dict[str, Any]) -> None:
        """Purge what has expired, a batch per transaction, then come back.

        Rate-limit hits older than the longest window (a day) go too. Between two
        batches the loop serves whatever is waiting (requests, other jobs). A run that
        stops with work left comes back at once, otherwise in a minute.
        """
        done = await self._drain(self._purge_batch) and await self._drain(self._forget_batch)
        async with self.storage.write() as repos:
            delay = SWEEP_EVERY_SECONDS if done else 0.0
            await self.queue.schedule(repos, PURGE_JOB, {}, delay=delay)

    async def _drain(self, batch: Callable[[], Awaitable[int]]) -> bool:
        """Run ``batch`` until one comes back short (True) or the run's share is used up."""
        for _ in range(BATCHES_PER_RUN):
            if await batch() < self.batch:
                return True
            await asyncio.sleep(0)  # requests waiting on the loop go before the next batch
        return False

    async def _forget_batch(self) -> int:
        async with self.storage.write() as repos:
            return await repos.rates.forget_before(
                self.clock.now() - LONGEST_LIMIT_WINDOW, self.batch
            )

    async def _purge_batch(self) -> int:
        now = self.clock.now()
        async with self.storage.write() as repos:
            purged, attachment_ids = await repos.messages.purge_expired(now, self.batch)
            doomed = [
                found
                for attachment_id in attachment_ids
                if (found := await repos.attachments.get(None, attachment_id)) is not None
            ]
            for attachment in doomed:
                await repos.attachments.mark_deleted(AttachmentId(attachment.id), now)
        for attachment in doomed:
            await self.blobs.delete(attachment.blob_key)
        return purged
