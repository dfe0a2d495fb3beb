"""SIGKILL with webhook deliveries in flight: after a restart every event arrives, signed.

Real processes and the real clock: ``python -m openlinq serve`` is killed while its
first deliveries hang at the receiver, then started again on the same database.
Runs on SQLite, and on PostgreSQL with ``--backend postgres``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from linq import LinqAPIV3

from tests.support.processes import OpenlinqProcess, serve_to_be_killed, wait_until
from tests.support.receiver import Answer, Hit, Receiver
from tests.support.tenant import magic

KEY = "olq_webhook_durability_key"
EVENTS: Any = ["message.sent", "message.delivered", "message.read"]
PLAIN_IPHONES = [f"+1628555{7100 + n}" for n in range(4)]  # deliver at once, never read
READER = magic("04")  # reads about 1 s after delivery
FINAL_STATUS = {**dict.fromkeys(PLAIN_IPHONES, "delivered"), READER: "read"}
# As many requests as one endpoint may have in flight per process (concurrency 4): every
# request of the first life hangs, so none of its deliveries is acknowledged.
HANGS = 4
HANG_SECONDS = 5.0  # longer than the 2 s webhook timeout: a hung attempt never succeeds


@contextmanager
def _client(server: OpenlinqProcess) -> Iterator[LinqAPIV3]:
    with LinqAPIV3(base_url=f"{server.base_url}/api/partner", api_key=KEY, max_retries=0) as c:
        yield c


def _recorded_events(server: OpenlinqProcess) -> list[dict[str, Any]]:
    """The account's outbox, as the simulator API shows it."""
    events = server.get_json("/sim/v1/events", KEY, limit=500)["events"]
    return [e for e in events if e["event_type"] in EVENTS]


def _acknowledged(server: OpenlinqProcess, subscription_id: str) -> set[str]:
    """Event ids whose delivery the server saw answered with a 2xx (its delivery log)."""
    page = server.get_json(
        f"/v3/webhook-subscriptions/{subscription_id}/deliveries",
        KEY,
        status="succeeded",
        limit=100,
    )
    assert page["next_cursor"] is None
    return {d["event_id"] for d in page["deliveries"]}


def _event_ids(hits: list[Hit]) -> set[str]:
    return {hit.event["event_id"] for hit in hits}


def test_events_in_flight_at_a_crash_arrive_after_the_restart(
    fresh_database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.script(*[Answer(delay=HANG_SECONDS)] * HANGS)
    server = serve_to_be_killed(tmp_path, fresh_database_url, KEY)
    try:
        with _client(server) as client:
            subscription = client.webhook_subscriptions.create(
                target_url=receiver.url(), subscribed_events=EVENTS
            )
            line = client.phone_numbers.list().phone_numbers[0].phone_number
            sent = {
                client.chats.create(
                    from_=line,
                    to=[to],
                    message={"parts": [{"type": "text", "value": f"before the crash {to}"}]},
                ).chat.message.id: to
                for to in FINAL_STATUS
            }
        wait_until(lambda: len(receiver.hits) >= 1, 15, "a first delivery to be in flight")
        server.kill()
        in_flight = list(receiver.hits)
        # Only hanging answers were given so far: nothing had been acknowledged.
        assert 1 <= len(in_flight) <= HANGS

        server = serve_to_be_killed(tmp_path, fresh_database_url, KEY)
        with _client(server) as client:

            def settled() -> bool:
                return all(
                    client.messages.retrieve(i).delivery_status == FINAL_STATUS[to]
                    for i, to in sent.items()
                )

            wait_until(settled, 30, "every message to reach its final status")
        recorded = _recorded_events(server)
        expected = {e["event_id"] for e in recorded}
        wait_until(
            lambda: expected <= _acknowledged(server, subscription.id),
            60,
            "every event to be acknowledged by the receiver",
        )
        acknowledged = _acknowledged(server, subscription.id)
    finally:
        server.stop()

    # The crash neither lost nor doubled a state change: one event per transition.
    per_message: dict[str, list[str]] = defaultdict(list)
    for event in recorded:
        per_message[event["data"]["id"]].append(event["event_type"])
    assert {i: sorted(types) for i, types in per_message.items()} == {
        i: sorted(
            ["message.sent", "message.delivered"] + (["message.read"] if to == READER else [])
        )
        for i, to in sent.items()
    }

    hits = list(receiver.hits)
    assert _event_ids(hits) == acknowledged == expected
    # What was in flight at the crash was not acknowledged, so it is delivered again.
    times_received = Counter(hit.event["event_id"] for hit in hits)
    assert {i for i in _event_ids(in_flight) if times_received[i] < 2} == set()
    with LinqAPIV3(base_url="http://unused.invalid", api_key=KEY) as verifier:
        for hit in hits:
            unwrapped = verifier.webhooks.unwrap(
                hit.body.decode(), headers=hit.headers, key=subscription.signing_secret
            )
            assert unwrapped.event_id == hit.headers["webhook-id"] == hit.event["event_id"]
    # A redelivery is the same event: one event id per (type, message), whichever life sent it.
    ids_per_transition: dict[tuple[str, str], set[str]] = defaultdict(set)
    for hit in hits:
        ids_per_transition[(hit.event["event_type"], hit.event["data"]["id"])].add(
            hit.event["event_id"]
        )
    assert len(ids_per_transition) == len(expected)
    assert all(len(ids) == 1 for ids in ids_per_transition.values())
