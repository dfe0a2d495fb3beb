"""GroupCall: calls made while one batch runs go together in the next, each gets its own."""

from __future__ import annotations

import asyncio

import pytest

from openlinq.webhooks.batch import GroupCall

pytestmark = pytest.mark.anyio


async def test_calls_made_while_a_batch_runs_go_together_in_the_next() -> None:
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        if len(batches) == 1:
            await release.wait()  # the first batch is slow: the others queue meanwhile
        return [item * 10 for item in items]

    call = GroupCall(run)
    first = asyncio.create_task(call(1))
    for _ in range(4):  # a turn with no new call is all the first one waits
        await asyncio.sleep(0)
    assert batches == [[1]]
    others = [asyncio.create_task(call(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 10
    assert [await task for task in others] == [20, 30, 40]
    assert batches == [[1], [2, 3, 4]]


async def test_calls_arriving_a_turn_apart_go_together() -> None:
    """As the job runner starts its claimed jobs: one per turn of the event loop."""
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        return [item * 10 for item in items]

    call = GroupCall(run)
    tasks = []
    for n in range(5):
        tasks.append(asyncio.create_task(call(n)))
        await asyncio.sleep(0)
    assert [await task for task in tasks] == [0, 10, 20, 30, 40]
    assert batches == [[0, 1, 2, 3, 4]]


async def test_a_failed_batch_fails_its_own_callers_only() -> None:
    async def run(items: list[int]) -> list[int]:
        if 2 in items:
            raise ValueError("no twos")
        return items

    call = GroupCall(run)
    with pytest.raises(ValueError, match="no twos"):
        await call(2)
    assert await call(3) == 3  # the next batch runs as usual
