"""Durability: a message the API accepted is delivered even if the process that took it dies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from linq import LinqAPIV3

from openlinq.config import Settings
from openlinq.domain.clock import ManualClock
from openlinq.domain.messaging import SEND_JOB
from openlinq.store.repos.jobs import Job
from tests.support.server import RunningServer, run_server
from tests.support.tenant import Sim, create_tenant

RECIPIENT = "+14155551234"  # a plain iPhone: delivered as soon as it is sent


def _settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir, **overrides)


@contextmanager
def _session(server: RunningServer, api_key: str) -> Iterator[tuple[LinqAPIV3, Sim]]:
    """The official SDK and the simulator API, for one account on ``server``."""
    with (
        LinqAPIV3(
            base_url=server.sdk_base_url,
            api_key=api_key,
            _strict_response_validation=True,
            max_retries=0,
        ) as client,
        httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        ) as http,
    ):
        yield client, Sim(http)


def _send(client: LinqAPIV3, line: str) -> str:
    created = client.chats.create(
        from_=line, to=[RECIPIENT], message={"parts": [{"type": "text", "value": "survive this"}]}
    )
    assert created.chat.message.delivery_status == "queued"
    return created.chat.message.id


def _status(client: LinqAPIV3, message_id: str) -> str:
    return client.messages.retrieve(message_id).delivery_status


def _lifecycle(sim: Sim, message_id: str) -> list[str]:
    """The message.* events recorded for one message, oldest first."""
    return [
        e["event_type"]
        for e in sim.events()
        if e["event_type"].startswith("message.") and e["data"].get("id") == message_id
    ]


def _wait_for_status(client: LinqAPIV3, message_id: str, wanted: str, seconds: float) -> str:
    """Poll a real-clock server until its background worker has done the work (bounded)."""
    deadline = time.monotonic() + seconds
    status = _status(client, message_id)
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        status = _status(client, message_id)
    return status


def _crash_a_worker_holding(server: RunningServer, kind: str) -> list[Job]:
    """A worker claims every due job of ``kind`` and dies without finishing them."""
    services = server.services
    lease = timedelta(seconds=services.settings.job_lease_seconds)

    async def claim() -> list[Job]:
        async with services.storage.write() as repos:
            return await repos.jobs.claim(
                "crashed-worker", services.clock.now(), lease, 100, [kind]
            )

    return server.call(claim)


def test_a_message_queued_before_a_restart_is_delivered_by_the_next_process(
    fresh_database_url: str, tmp_path: Path
) -> None:
    settings = _settings(fresh_database_url, tmp_path)  # the real clock
    # First life: the API accepts the send, but no worker runs the jobs.
    with run_server(settings.model_copy(update={"run_worker": False})) as first:
        tenant = create_tenant(first)
        tenant.client.close()
        tenant.http.close()
        with _session(first, tenant.api_key) as (client, sim):
            message_id = _send(client, tenant.line)
            assert _status(client, message_id) == "queued"
            assert _lifecycle(sim, message_id) == []
    # Second life on the same database, with the worker on.
    with run_server(settings) as second, _session(second, tenant.api_key) as (client, sim):
        assert _wait_for_status(client, message_id, "delivered", seconds=10) == "delivered"
        message = client.messages.retrieve(message_id)
        assert message.sent_at is not None
        assert message.delivered_at is not None
        assert sorted(_lifecycle(sim, message_id)) == ["message.delivered", "message.sent"]


def test_a_send_claimed_by_a_crashed_worker_is_delivered_after_its_lease(
    fresh_database_url: str, tmp_path: Path
) -> None:
    settings = _settings(fresh_database_url, tmp_path, clock="manual")
    with run_server(settings, ManualClock()) as server:
        tenant = create_tenant(server)
        with tenant.client as client, tenant.http:
            message_id = _send(client, tenant.line)
            claimed = _crash_a_worker_holding(server, SEND_JOB)
            assert [job.payload["message_id"] for job in claimed] == [message_id]
            lease = settings.job_lease_seconds
            tenant.sim.advance(0)
            tenant.sim.advance(lease - 1)
            assert _status(client, message_id) == "queued"  # the lease still holds
            assert _lifecycle(tenant.sim, message_id) == []
            tenant.sim.advance(2)
            assert _status(client, message_id) == "delivered"
            assert sorted(_lifecycle(tenant.sim, message_id)) == [
                "message.delivered",
                "message.sent",
            ]


def test_a_restart_resumes_sends_a_dead_process_had_claimed(
    backend: str, fresh_database_url: str, tmp_path: Path
) -> None:
    """SQLite has exactly one worker, so a restart voids every earlier lease at once;
    PostgreSQL may have live workers elsewhere, so there the lease runs its course."""
    settings = _settings(fresh_database_url, tmp_path, clock="manual")
    clock = ManualClock()
    with run_server(settings, clock) as first:
        tenant = create_tenant(first)
        tenant.client.close()
        tenant.http.close()
        with _session(first, tenant.api_key) as (client, _):
            message_id = _send(client, tenant.line)
        assert len(_crash_a_worker_holding(first, SEND_JOB)) == 1
    lease_left = settings.job_lease_seconds if backend == "postgres" else 0.0
    with run_server(settings, clock) as second, _session(second, tenant.api_key) as (client, sim):
        sim.advance(0)
        assert _status(client, message_id) == ("queued" if lease_left else "delivered")
        sim.advance(lease_left + 1)
        assert _status(client, message_id) == "delivered"
        assert sorted(_lifecycle(sim, message_id)) == ["message.delivered", "message.sent"]
