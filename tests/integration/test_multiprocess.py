"""PostgreSQL with an API-only server and two worker processes sharing the job queue."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from linq import LinqAPIV3

from tests.support.processes import OpenlinqProcess, subscribe_and_send, wait_until
from tests.support.receiver import Answer, Hit, Receiver

KEY = "olq_multiprocess_test_key"
MESSAGES = 30
EVENTS: Any = ["message.sent", "message.delivered"]
ENDPOINT_CONCURRENCY = 2  # requests one process may have open at one endpoint
ANSWER_DELAY = 0.3  # seconds the receiver holds every request, so overlaps are visible


def _deliveries(api: OpenlinqProcess, subscription_id: str) -> list[dict[str, Any]]:
    """Every delivery of the subscription, through the delivery-log extension."""
    deliveries: list[dict[str, Any]] = []
    cursor: str | None = None
    with httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        while True:
            response = http.get(
                f"/v3/webhook-subscriptions/{subscription_id}/deliveries",
                params={"limit": 100, **({"cursor": cursor} if cursor else {})},
            )
            assert response.status_code == 200, response.text
            page = response.json()
            deliveries += page["deliveries"]
            cursor = page["next_cursor"]
            if not cursor:
                return deliveries


def _most_open_at_once(hits: list[Hit]) -> int:
    """The most requests the receiver held unanswered at the same moment."""
    edges = sorted(
        [(h.received_at, 1) for h in hits] + [(h.received_at + ANSWER_DELAY, -1) for h in hits]
    )
    open_now = most = 0
    for _, change in edges:  # at a tie an answer (-1) sorts before an arrival (+1)
        open_now += change
        most = max(most, open_now)
    return most


def test_two_workers_share_the_work_and_deliver_each_event_once(
    backend: str, fresh_database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    if backend != "postgres":
        pytest.skip("several job-running processes need PostgreSQL (SQLite has one writer)")
    receiver.script(*[Answer(delay=ANSWER_DELAY)] * (len(EVENTS) * MESSAGES))
    common = {"database_url": fresh_database_url, "dev_api_key": KEY}
    api = OpenlinqProcess("serve", tmp_path / "api", run_worker="false", **common).start()
    workers = [
        OpenlinqProcess(
            "worker",
            tmp_path / f"worker{n}",
            webhook_endpoint_concurrency=str(ENDPOINT_CONCURRENCY),
            **common,
        ).start()
        for n in range(2)
    ]
    try:
        with LinqAPIV3(
            base_url=f"{api.base_url}/api/partner", api_key=KEY, max_retries=0
        ) as client:
            subscription, ids = subscribe_and_send(
                client, receiver.url(), EVENTS, MESSAGES, first=8000
            )
            wait_until(
                lambda: all(
                    client.messages.retrieve(i).delivery_status == "delivered" for i in ids
                ),
                60,
                "every message to be delivered",
            )
        wait_until(
            lambda: all(d["status"] == "succeeded" for d in _deliveries(api, subscription.id)),
            60,
            "every webhook delivery to succeed",
        )
        deliveries = _deliveries(api, subscription.id)
    finally:
        for process in (api, *workers):
            process.stop()

    assert len(deliveries) == len(EVENTS) * MESSAGES
    assert [len(d["attempt_log"]) for d in deliveries] == [1] * len(deliveries)
    hits = list(receiver.hits)
    times_received = Counter(hit.event["event_id"] for hit in hits)
    assert set(times_received) == {d["event_id"] for d in deliveries}
    assert set(times_received.values()) == {1}  # neither worker delivered an event twice
    assert {hit.event["data"]["id"] for hit in hits} == set(ids)
    # One process never holds more than ENDPOINT_CONCURRENCY requests open at the endpoint
    # (the API server runs no jobs), so more open at once means both workers were delivering.
    assert _most_open_at_once(hits) > ENDPOINT_CONCURRENCY
