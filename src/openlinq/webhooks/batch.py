"""Group commit for the dispatcher: calls made while one batch runs go together in the next.

Deliveries finish one by one, each wanting a small transaction (load what to send,
record what happened). Under load those transactions, not the work in them, are
the cost; a ``GroupCall`` runs one call for everything that queued up meanwhile and
hands each caller its own result. A batch starts once a turn of the event loop has
added no call to it (the job runner starts its jobs one per turn, so their calls
arrive a turn apart): at low load that is one turn, microseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# A batch waits at most this many turns of the event loop for more calls.
MAX_GATHER_TURNS = 64


class GroupCall(Generic[T, R]):
    def __init__(self, run: Callable[[list[T]], Awaitable[Sequence[R]]]) -> None:
        self._run = run
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._worker is None:
            self._worker = asyncio.create_task(self._drain(), name="openlinq-group-call")
        return await future

    async def _gather(self) -> None:
        """Until a turn of the loop adds no call (or MAX_GATHER_TURNS passed)."""
        seen = -1
        for _ in range(MAX_GATHER_TURNS):
            if len(self._pending) == seen:
                return
            seen = len(self._pending)
            await asyncio.sleep(0)

    async def _drain(self) -> None:
        try:
            while self._pending:
                await self._gather()
                batch, self._pending = self._pending, []
                try:
                    results = await self._run([item for item, _ in batch])
                except Exception as exc:  # every caller of the batch sees the failure
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:
                    for _, future in batch:
                        future.cancel()
                    raise
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():  # its caller may have given up (a timeout)
                        future.set_result(result)
        finally:
            self._worker = None
            for _, future in self._pending:  # only when cancelled: nobody would answer
                future.cancel()
            self._pending = []
