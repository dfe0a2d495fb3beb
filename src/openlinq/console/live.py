"""Live updates for open console pages, read from the event outbox.

One reader per process follows the ``events`` table (the same facts the webhooks are
built from) and hands each new event to the pages that listen for its account, so ten
open browser tabs cost one small indexed query every ``interval`` seconds, and none while
no page is open. Events recorded by another process (a worker on PostgreSQL) are seen
too, since they are read from the database, not from this process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

from openlinq.domain.ids import AccountId
from openlinq.store.repos.events import StoredEvent
from openlinq.store.unit import Storage

log = logging.getLogger(__name__)

_BATCH = 500
_QUEUE = 1000


class Listener:
    """One open page's share of the feed: registered the moment it is made, so nothing
    recorded after ``LiveFeed.listen`` returns is missed."""

    def __init__(self, feed: LiveFeed, account_id: AccountId) -> None:
        self.feed = feed
        self.account_id = account_id
        self.queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(_QUEUE)

    async def __aiter__(self) -> AsyncIterator[StoredEvent | None]:
        """Every event of the account; ``None`` means some were dropped (the page fell
        behind) and it should reload what it shows."""
        try:
            while True:
                yield await self.queue.get()
        finally:
            self.feed.listeners.discard(self)


class LiveFeed:
    def __init__(self, storage: Storage, interval: float = 0.2) -> None:
        self.storage = storage
        self.interval = interval
        # PostgreSQL hands out sequence numbers before commit, so a transaction can commit
        # after one with a higher number: each read looks back and skips what it has seen.
        # SQLite has one writer, so its numbers commit in order.
        self.lookback = 0 if storage.db.is_sqlite else 50
        self.listeners: set[Listener] = set()
        self._reader: asyncio.Task[None] | None = None
        self._seen: deque[str] = deque(maxlen=1000)
        self._seq = 0

    async def listen(self, account_id: AccountId) -> Listener:
        if self._reader is None or self._reader.done():
            async with self.storage.read() as repos:
                self._seq = await repos.events.last_seq()
            self._reader = asyncio.create_task(self._read(), name="openlinq-console-live")
        listener = Listener(self, account_id)
        self.listeners.add(listener)
        return listener

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        while self.listeners:
            try:
                await self._read_once()
            except Exception:  # a failed read is retried; the pages keep their connection
                log.exception("console live feed: reading events failed")
            await asyncio.sleep(self.interval)

    async def _read_once(self) -> None:
        async with self.storage.read() as repos:
            rows = await repos.events.after(max(self._seq - self.lookback, 0), _BATCH)
        for seq, event in rows:
            self._seq = max(self._seq, seq)
            if event.id in self._seen:
                continue
            self._seen.append(event.id)
            for listener in list(self.listeners):
                if listener.account_id == event.account_id:
                    self._offer(listener, event)

    @staticmethod
    def _offer(listener: Listener, event: StoredEvent) -> None:
        try:
            listener.queue.put_nowait(event)
        except asyncio.QueueFull:
            # The page is not reading: drop its backlog and tell it to reload instead.
            while not listener.queue.empty():
                listener.queue.get_nowait()
            listener.queue.put_nowait(None)
