"""Several processes on PostgreSQL: API-only servers and two workers share the work."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from linq import LinqAPIV3

from tests.support.processes import OpenlinqProcess, wait_until
from tests.support.receiver import Receiver

KEY = "olq_workers_test_key"
MESSAGES = 30
EVENTS: Any = ["message.sent", "message.delivered"]


def test_two_workers_deliver_everything_once(
    backend: str, fresh_database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    if backend != "postgres":
        pytest.skip("several worker processes need PostgreSQL (SQLite has one writer)")
    common = {"database_url": fresh_database_url, "dev_api_key": KEY}
    api = OpenlinqProcess("serve", tmp_path / "api", run_worker="false", **common).start()
    workers = [OpenlinqProcess("worker", tmp_path / f"w{n}", **common).start() for n in range(2)]
    try:
        with LinqAPIV3(
            base_url=f"{api.base_url}/api/partner", api_key=KEY, max_retries=0
        ) as client:
            client.webhook_subscriptions.create(target_url=receiver.url(), subscribed_events=EVENTS)
            line = client.phone_numbers.list().phone_numbers[0].phone_number
            ids = [
                client.chats.create(
                    from_=line,
                    to=[f"+1415556{8000 + n}"],
                    message={"parts": [{"type": "text", "value": f"m{n}"}]},
                ).chat.message.id
                for n in range(MESSAGES)
            ]
            wait_until(lambda: len(receiver.hits) >= 2 * MESSAGES, 60, "every webhook")
            assert {client.messages.retrieve(i).delivery_status for i in ids} == {"delivered"}
    finally:
        for process in (api, *workers):
            process.stop()
    counts = Counter(hit.event["event_id"] for hit in receiver.hits)
    assert len(counts) == 2 * MESSAGES
    assert max(counts.values()) == 1  # no event delivered twice by the two workers
