"""Two workers on one PostgreSQL job queue, one of them killed (SIGKILL) mid-delivery.

Real processes and the real clock: an API-only server, a worker that is killed while its
first webhook deliveries hang at the receiver, and a second worker that takes over. The
dead worker's leased jobs run again once their lease is out, and nothing else does.
(Two live workers sharing the work: ``test_multiprocess.py``.)
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from linq import LinqAPIV3
from sqlalchemy import select

from openlinq.store.engine import Database
from openlinq.store.tables import jobs
from tests.support.processes import OpenlinqProcess, subscribe_and_send, wait_until
from tests.support.receiver import Answer, Receiver

KEY = "olq_scale_out_jobs_key"
MESSAGES = 6
EVENTS: Any = ["message.sent", "message.delivered"]
HANG = 2.0  # the first answers wait this long: those deliveries are in flight at the kill
IN_FLIGHT = 2  # deliveries one worker has open at the endpoint (its endpoint concurrency)
LEASE = "3"  # seconds before a dead worker's jobs can be claimed again


def _jobs(url: str) -> list[Any]:
    async def read() -> list[Any]:
        db = Database(url)
        try:
            async with db.read() as conn:
                return list(await conn.execute(select(jobs)))
        finally:
            await db.dispose()

    return asyncio.run(read())


def _deliveries(api: OpenlinqProcess, subscription_id: str) -> list[dict[str, Any]]:
    page = api.get_json(f"/v3/webhook-subscriptions/{subscription_id}/deliveries", KEY, limit=100)
    assert page["next_cursor"] is None
    deliveries: list[dict[str, Any]] = page["deliveries"]
    return deliveries


def test_a_killed_workers_jobs_are_taken_over_and_nothing_runs_twice(
    backend: str, fresh_database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    if backend != "postgres":
        pytest.skip("several job-running processes need PostgreSQL (SQLite has one writer)")
    receiver.script(*[Answer(delay=HANG)] * IN_FLIGHT)
    common = {
        "database_url": fresh_database_url,
        "dev_api_key": KEY,
        "job_lease_seconds": LEASE,
        "webhook_endpoint_concurrency": str(IN_FLIGHT),
    }
    api = OpenlinqProcess("serve", tmp_path / "api", run_worker="false", **common).start()
    doomed = OpenlinqProcess("worker", tmp_path / "doomed", **common).start()
    survivor = OpenlinqProcess("worker", tmp_path / "survivor", **common)
    try:
        with LinqAPIV3(
            base_url=f"{api.base_url}/api/partner", api_key=KEY, max_retries=0
        ) as client:
            subscription, ids = subscribe_and_send(
                client, receiver.url(), EVENTS, MESSAGES, first=8100
            )
            receiver.wait_for(IN_FLIGHT, timeout=60)  # the doomed worker is mid-delivery
            doomed.kill()
            received_before = {hit.event["event_id"] for hit in list(receiver.hits)}
            # What the dead worker saw acknowledged and recorded (it records nothing more).
            acknowledged = {
                d["event_id"]
                for d in _deliveries(api, subscription.id)
                if d["status"] == "succeeded"
            }
            survivor.start()
            # Still the dead worker's: the survivor takes seconds to start, and the leases
            # run for LEASE seconds after the dead worker's last renewal.
            held = {job.id for job in _jobs(fresh_database_url) if job.locked_by is not None}
            assert held, "the doomed worker held no job when it was killed"

            wait_until(
                lambda: all(
                    client.messages.retrieve(i).delivery_status == "delivered" for i in ids
                ),
                60,
                "every message to be delivered",
            )
        wait_until(
            lambda: (
                len(_deliveries(api, subscription.id)) == len(EVENTS) * MESSAGES
                and all(d["status"] == "succeeded" for d in _deliveries(api, subscription.id))
            ),
            60,
            "every webhook delivery to succeed",
        )
        events = [
            e
            for e in api.get_json("/sim/v1/events", KEY, limit=500)["events"]
            if e["event_type"] in EVENTS
        ]
        left = _jobs(fresh_database_url)
    finally:
        for process in (api, doomed, survivor):
            process.stop()

    # The dead worker's jobs were taken over and finished; none was given up on.
    assert not held & {job.id for job in left}
    assert [job.id for job in left if job.dead_at is not None] == []
    # One event per state change: no send or receipt ran twice.
    per_change: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event in events:
        per_change[(event["data"]["id"], event["event_type"])].append(event["event_id"])
    assert sorted(per_change) == sorted((i, t) for i in ids for t in EVENTS)
    assert all(len(event_ids) == 1 for event_ids in per_change.values())
    # Every event arrived; only what the dead worker had sent without recording the answer
    # (in flight at the kill) arrived twice.
    times_received = Counter(hit.event["event_id"] for hit in receiver.hits)
    assert set(times_received) == {e["event_id"] for e in events}
    unrecorded = received_before - acknowledged
    assert unrecorded, "nothing was in flight at the kill"
    assert {i for i, n in times_received.items() if n > 1} == unrecorded
    assert max(times_received.values()) == 2
