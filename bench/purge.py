"""How fast does the retention sweep purge expired messages from a large table, and
how long does it hold the event loop at a stretch?

Builds a fresh SQLite database (or the PostgreSQL one in --database-url) with N
messages (default 1,000,000), half of them past their expiry, then lets the job
runner run the sweep as the server does (a run does a share of the backlog and
queues the next at once) and reports the time and rate. A ticker task on the same
loop records the gaps between its turns: the longest is the longest a request
would have waited for the sweep. Run: .venv/bin/python bench/purge.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from openlinq.config import Settings
from openlinq.domain.clock import ManualClock
from openlinq.domain.parts import build_content
from openlinq.domain.retention import SWEEP_EVERY_SECONDS
from openlinq.store.tables import messages
from openlinq.wiring import Services, build_services, start, stop

BATCH = 20_000


async def fill(
    services: Services, chat_id: str, account_id: str, count: int, now: datetime
) -> None:
    for first in range(0, count, BATCH):
        rows = [
            {
                "id": str(uuid.uuid4()),
                "account_id": account_id,
                "chat_id": chat_id,
                "direction": "outbound",
                "sender_handle": "+12025550180",
                "parts": [{"type": "text", "value": f"message {n}"}],
                "service": "iMessage",
                "delivery_status": "delivered",
                "created_at": now - timedelta(hours=30),
                "updated_at": now - timedelta(hours=30),
                # every other message is past its 24 h window
                "expires_at": now - timedelta(hours=6) if n % 2 else now + timedelta(hours=6),
                "extra": {},
            }
            for n in range(first, min(first + BATCH, count))
        ]
        async with services.db.transaction() as conn:
            await conn.execute(messages.insert(), rows)


async def tick(gaps: list[float]) -> None:
    """Take a turn on the loop as often as it lets us; record the CPU time between turns.

    CPU time, not wall time: on a shared machine the process is also descheduled, and
    that is not the sweep holding the loop.
    """
    last = time.process_time()
    while True:
        await asyncio.sleep(0)
        now = time.process_time()
        gaps.append(now - last)
        last = now


async def run(count: int, database_url: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as data_dir:
        clock = ManualClock(datetime(2026, 11, 22, tzinfo=UTC))
        settings = Settings(data_dir=Path(data_dir), database_url=database_url, clock="manual")
        services = build_services(settings, clock)
        await start(services)
        try:
            sandbox = await services.accounts.ensure_sandbox(None)
            line = sandbox.lines[0]
            seed = build_content({"parts": [{"type": "text", "value": "seed"}]})
            sent = await services.messaging.create_chat(
                sandbox.account, line.phone_number, ["+14155550000"], seed, "bench"
            )
            started = time.perf_counter()
            await fill(services, sent.chat.id, sandbox.account.id, count, clock.now())
            filled = time.perf_counter() - started
            clock.advance(SWEEP_EVERY_SECONDS)  # the sweep queued at start is due
            gaps: list[float] = []
            ticker = asyncio.create_task(tick(gaps))
            started = time.perf_counter()
            jobs_run = 0
            while ran := await services.runner.run_due():
                jobs_run += ran
            purged_in = time.perf_counter() - started
            ticker.cancel()
            gaps.sort()
            async with services.db.read() as conn:
                left = (
                    await conn.execute(
                        select(func.count())
                        .select_from(messages)
                        .where(
                            messages.c.expires_at <= clock.now(), messages.c.deleted_at.is_(None)
                        )
                    )
                ).scalar_one()
        finally:
            await stop(services)
    return {
        "messages": count,
        "expired": count // 2,
        "left_unpurged": left,
        "fill_seconds": round(filled, 1),
        "purge_seconds": round(purged_in, 1),
        "purged_per_second": round((count // 2) / purged_in),
        "jobs_run": jobs_run,
        # CPU time the loop spent between two turns of the ticker.
        "longest_loop_hold_ms": round(gaps[-1] * 1000, 1) if gaps else None,
        "p99_loop_hold_ms": round(gaps[int(len(gaps) * 0.99)] * 1000, 1) if gaps else None,
        "database": "postgresql" if database_url else "sqlite",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.messages, args.database_url)), indent=2))


if __name__ == "__main__":
    main()
