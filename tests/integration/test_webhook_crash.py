"""Kill the server mid-delivery: after a restart every event still arrives, signed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linq import LinqAPIV3

from tests.support.processes import OpenlinqProcess, wait_until
from tests.support.receiver import Answer, Receiver

KEY = "olq_crash_test_key"
EVENTS: Any = ["message.sent", "message.delivered"]


def _event_ids(receiver: Receiver) -> set[str]:
    return {hit.event["event_id"] for hit in list(receiver.hits)}


def test_events_survive_a_crash_mid_delivery(
    fresh_database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = {
        "database_url": fresh_database_url,
        "dev_api_key": KEY,
        "job_lease_seconds": "2",
        "webhook_timeout_seconds": "10",
    }
    # The endpoint is slow at first, so deliveries are in flight when the server dies.
    receiver.script(*[Answer(delay=2.0)] * 3)
    server = OpenlinqProcess("serve", tmp_path, **settings).start()
    try:
        with LinqAPIV3(
            base_url=f"{server.base_url}/api/partner", api_key=KEY, max_retries=0
        ) as client:
            subscription = client.webhook_subscriptions.create(
                target_url=receiver.url(), subscribed_events=EVENTS
            )
            line = client.phone_numbers.list().phone_numbers[0].phone_number
            for n in range(3):
                client.chats.create(
                    from_=line,
                    to=[f"+1415555{7000 + n}"],
                    message={"parts": [{"type": "text", "value": f"crash {n}"}]},
                )
        wait_until(lambda: len(receiver.hits) >= 1, 15, "a delivery to be in flight")
        server.kill()
        seen_before_restart = _event_ids(receiver)
        server = OpenlinqProcess("serve", tmp_path, **settings).start()
        wait_until(lambda: len(_event_ids(receiver)) >= 6, 30, "every event after the restart")
    finally:
        server.stop()
    assert len(_event_ids(receiver)) == 6  # 3 messages x (sent, delivered)
    assert seen_before_restart < _event_ids(receiver)
    with LinqAPIV3(base_url="http://unused.invalid", api_key=KEY) as verifier:
        for hit in receiver.hits:
            event = verifier.webhooks.unwrap(
                hit.body.decode(), headers=hit.headers, key=subscription.signing_secret
            )
            assert event.event_id == hit.headers["webhook-id"]
    by_id: dict[str, set[bytes]] = {}
    for hit in receiver.hits:
        by_id.setdefault(hit.event["event_id"], set()).add(hit.body)
    # A redelivered event is the same event: same id, same payload.
    assert all(len(bodies) == 1 for bodies in by_id.values())
