"""A running job keeps its lease: a slow webhook endpoint gets each event once.

Real clock, real worker, a one-second lease and a receiver that takes 2.5 s to
answer: without lease renewal the runner takes its own running delivery over
after a second and posts the same ``webhook-id`` again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openlinq.config import Settings
from tests.support.processes import wait_until
from tests.support.receiver import Answer, Receiver
from tests.support.server import RunningServer, run_server
from tests.support.tenant import create_tenant

LEASE = 1.0
ANSWER_AFTER = 2.5


@pytest.fixture
def short_lease_server(fresh_database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = Settings(
        database_url=fresh_database_url,
        data_dir=tmp_path / "data",
        clock="real",
        job_lease_seconds=LEASE,
        webhook_timeout_seconds=ANSWER_AFTER + 2,
    )
    with run_server(settings) as running:
        yield running


def test_a_delivery_slower_than_the_lease_is_sent_and_logged_once(
    short_lease_server: RunningServer, receiver: Receiver
) -> None:
    tenant = create_tenant(short_lease_server)
    try:
        subscription = tenant.client.webhook_subscriptions.create(
            target_url=receiver.url(), subscribed_events=["message.sent"]
        )
        receiver.script(Answer(delay=ANSWER_AFTER))
        tenant.client.chats.create(
            from_=tenant.line,
            to=["+14155556001"],
            message={"parts": [{"type": "text", "value": "slow endpoint"}]},
        )

        def deliveries() -> list[dict[str, Any]]:
            response = tenant.http.get(f"/v3/webhook-subscriptions/{subscription.id}/deliveries")
            assert response.status_code == 200, response.text
            found: list[dict[str, Any]] = response.json()["deliveries"]
            return found

        wait_until(lambda: [d["status"] for d in deliveries()] == ["succeeded"], 20, "the delivery")
        time.sleep(2 * LEASE)  # a take-over would have posted again by now
        (delivery,) = deliveries()
        assert delivery["attempts"] == 1
        assert len(delivery["attempt_log"]) == 1
        assert len(receiver.hits) == 1
    finally:
        tenant.client.close()
        tenant.http.close()
