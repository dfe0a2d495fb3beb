"""SIGKILL in the middle of a burst of sends: nothing accepted is lost, nothing is doubled.

Real processes and the real clock: the official SDK sends a burst from several
threads, ``python -m openlinq serve`` is killed while requests are still in
flight, and a new process starts on the same database. Every send that was
answered 2xx reaches the phone exactly once, a send cut off by the crash reaches
it at most once, and no state change is reported to the webhook twice.
Runs on SQLite, and on PostgreSQL with ``--backend postgres``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from linq import LinqAPIV3

from tests.support.processes import OpenlinqProcess, serve_to_be_killed, wait_until
from tests.support.receiver import Receiver

KEY = "olq_kill_mid_burst_key_0123456789abcdef"
RECIPIENT = "+16285557300"  # a plain iPhone: delivered as soon as it is sent
EVENTS: Any = ["message.sent", "message.delivered"]
BURST = 60
THREADS = 6
KILL_AFTER = 15  # accepted sends before the kill; the rest are in flight or not yet sent


def _client(server: OpenlinqProcess) -> LinqAPIV3:
    return LinqAPIV3(base_url=f"{server.base_url}/api/partner", api_key=KEY, max_retries=0)


def _screen_texts(server: OpenlinqProcess) -> list[str]:
    """The texts the simulated phone received, one entry per message it shows."""
    screen = server.get_json(f"/sim/v1/devices/{RECIPIENT}/screen", KEY)["messages"]
    return [
        part["value"]
        for message in screen
        if message["direction"] == "received"
        for part in message["parts"]
        if part.get("type") == "text"
    ]


def test_a_kill_mid_burst_loses_and_doubles_nothing(
    fresh_database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    server = serve_to_be_killed(tmp_path, fresh_database_url, KEY)
    accepted: dict[str, str] = {}  # text -> message id, for sends answered 2xx
    cut_off: set[str] = set()  # sends the crash interrupted: outcome unknown
    lock = threading.Lock()
    enough = threading.Event()
    try:
        with _client(server) as client:
            client.webhook_subscriptions.create(target_url=receiver.url(), subscribed_events=EVENTS)
            line = client.phone_numbers.list().phone_numbers[0].phone_number
            chat_id = client.chats.create(
                from_=line, to=[RECIPIENT], message={"parts": [{"type": "text", "value": "start"}]}
            ).chat.id

        def send(n: int) -> None:
            text = f"burst {n}"
            try:
                with _client(server) as own:
                    sent = own.chats.messages.send(
                        chat_id, message={"parts": [{"type": "text", "value": text}]}
                    )
            except Exception:  # refused connection or cut-off answer: the crash
                with lock:
                    cut_off.add(text)
                return
            with lock:
                accepted[text] = sent.message.id
                if len(accepted) >= KILL_AFTER:
                    enough.set()

        with ThreadPoolExecutor(THREADS) as pool:
            futures = [pool.submit(send, n) for n in range(BURST)]
            assert enough.wait(60), "the burst never got going"
            server.kill()
            for future in futures:
                future.result()
        assert len(accepted) >= KILL_AFTER
        assert len(accepted) < BURST, "the kill came after the whole burst: nothing was in flight"

        server = serve_to_be_killed(tmp_path, fresh_database_url, KEY)
        with _client(server) as client:

            def all_delivered() -> bool:
                return all(
                    client.messages.retrieve(i).delivery_status == "delivered"
                    for i in accepted.values()
                )

            wait_until(all_delivered, 30, "every accepted send to be delivered")
        texts = _screen_texts(server)
        events = [
            e
            for e in server.get_json("/sim/v1/events", KEY, limit=500)["events"]
            if e["event_type"] in EVENTS
        ]
        expected_hooks = {e["event_id"] for e in events}
        wait_until(
            lambda: expected_hooks <= {hit.event["event_id"] for hit in receiver.hits},
            30,
            "every event to reach the webhook",
        )
    finally:
        server.stop()

    # Every accepted send reached the phone exactly once; an interrupted one at most once.
    for text in accepted:
        assert texts.count(text) == 1, f"{text!r} (accepted) shown {texts.count(text)} times"
    for text in cut_off:
        assert texts.count(text) <= 1, f"{text!r} (cut off) shown {texts.count(text)} times"
    # One event per state change, and the webhook saw no event that was not recorded.
    per_change: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event in events:
        per_change[(event["data"]["id"], event["event_type"])].add(event["event_id"])
    doubled = {change: ids for change, ids in per_change.items() if len(ids) > 1}
    assert not doubled, f"state changes recorded twice: {doubled}"
    for message_id in accepted.values():
        assert {t for (i, t) in per_change if i == message_id} == set(EVENTS)
    received = defaultdict(set)
    for hit in receiver.hits:
        received[(hit.event["data"]["id"], hit.event["event_type"])].add(hit.event["event_id"])
    assert all(len(ids) == 1 for ids in received.values()), "a state change reached the hook twice"
    assert {i for ids in received.values() for i in ids} <= expected_hooks
