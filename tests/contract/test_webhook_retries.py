"""Webhook retries on the manual clock, the delivery log, redelivery, and auto-disable.

The schedule (webhooks/retry.py): after failed attempt n the next one comes
3 s * 2^(n-1) later, +/-20 % jitter, so it is never before 0.8x nor after 1.2x
of that; a 429's Retry-After replaces it; 10 attempts in all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.contract.test_webhook_delivery import (
    clock_now,
    forget_subscriptions,  # noqa: F401  (autouse fixture)
    send_text,
    verify,
)
from tests.support.receiver import Answer, Receiver, running_receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant

API = "/api/partner/v3/webhook-subscriptions"


def datetime_of(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _subscribe(tenant: Tenant, receiver: Receiver, path: str = "/hook") -> Any:
    return tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(path), subscribed_events=["message.sent"]
    )


def _log(tenant: Tenant, subscription_id: str, **params: Any) -> dict[str, Any]:
    response = tenant.http.get(f"{API}/{subscription_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _only_delivery(tenant: Tenant, subscription_id: str) -> dict[str, Any]:
    (delivery,) = _log(tenant, subscription_id)["deliveries"]
    found: dict[str, Any] = delivery
    return found


def _last_attempt_at(tenant: Tenant) -> datetime:
    """When the tenant's latest webhook attempt was made, on the simulated clock."""
    times = [
        datetime_of(attempt["attempted_at"])
        for subscription in tenant.client.webhook_subscriptions.list().subscriptions
        for delivery in _log(tenant, subscription.id)["deliveries"]
        for attempt in delivery["attempt_log"]
    ]
    return max(times)


def _advance_to(tenant: Tenant, moment: datetime) -> None:
    tenant.sim.advance(max(0.0, round((moment - clock_now(tenant)).total_seconds(), 3)))


def _next_attempt_comes_after(tenant: Tenant, receiver: Receiver, base: float) -> None:
    """Counted from the previous attempt: nothing arrives before 0.8x ``base`` seconds;
    exactly one attempt by 1.2x."""
    before = len(receiver.hits)
    last = _last_attempt_at(tenant)
    _advance_to(tenant, last + timedelta(seconds=base * 0.8 - 0.01))
    assert len(receiver.hits) == before, f"an attempt came before {base * 0.8:.2f} s"
    _advance_to(tenant, last + timedelta(seconds=base * 1.2 + 0.01))
    assert len(receiver.hits) == before + 1, f"no attempt by {base * 1.2:.2f} s"


def _one_event(tenant: Tenant, receiver: Receiver, *answers: Answer) -> Any:
    """Subscribe, script the receiver's answers, record one event and make its first attempt."""
    subscription = _subscribe(tenant, receiver)
    receiver.script(*answers)
    send_text(tenant)
    tenant.sim.advance(0)
    assert len(receiver.hits) == 1
    return subscription


# -- what retries and when -----------------------------------------------------------------


def test_a_500_is_retried_3_seconds_later_with_the_same_event_id(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription = _one_event(tenant, receiver, Answer(status=500))
    first_attempt_at = clock_now(tenant)
    pending = _only_delivery(tenant, subscription.id)
    assert (pending["status"], pending["attempts"], pending["last_status_code"]) == (
        "retrying",
        1,
        500,
    )
    wait = datetime_of(pending["next_attempt_at"]) - first_attempt_at
    assert timedelta(seconds=2.4) <= wait <= timedelta(seconds=3.6)
    _next_attempt_comes_after(tenant, receiver, 3)
    first, second = receiver.hits
    one, two = (verify(tenant, hit, subscription.signing_secret) for hit in (first, second))
    assert one["event_id"] == two["event_id"]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == one["event_id"]
    assert first.body == second.body
    # Each attempt is signed for its own timestamp (verify checked both).
    same_second = first.headers["webhook-timestamp"] == second.headers["webhook-timestamp"]
    assert same_second == (
        first.headers["webhook-signature"] == second.headers["webhook-signature"]
    )
    done = _only_delivery(tenant, subscription.id)
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("succeeded", 2, 200)
    assert [a["status_code"] for a in done["attempt_log"]] == [500, 200]
    assert done["next_attempt_at"] is None
    assert done["delivered_at"] is not None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_every_5xx_is_retried(tenant: Tenant, receiver: Receiver, status: int) -> None:
    subscription = _one_event(tenant, receiver, Answer(status=status))
    _next_attempt_comes_after(tenant, receiver, 3)
    assert _only_delivery(tenant, subscription.id)["status"] == "succeeded"


def test_a_429_retry_after_replaces_the_backoff(tenant: Tenant, receiver: Receiver) -> None:
    subscription = _one_event(
        tenant, receiver, Answer(status=429, headers={"Retry-After": "7"}), Answer(status=500)
    )
    tenant.sim.advance(6.9)
    assert len(receiver.hits) == 1
    tenant.sim.advance(0.1)
    assert len(receiver.hits) == 2
    # The next failure (no Retry-After) goes back to the computed backoff: attempt 2 -> 6 s.
    _next_attempt_comes_after(tenant, receiver, 6)
    log = _only_delivery(tenant, subscription.id)
    assert [a["status_code"] for a in log["attempt_log"]] == [429, 500, 200]


@pytest.mark.parametrize(
    "answer",
    [
        Answer(status=400),
        Answer(status=401),
        Answer(status=404),
        Answer(status=410),
        Answer(status=301, headers={"Location": "/elsewhere"}),
        Answer(status=302, headers={"Location": "/elsewhere"}),
    ],
    ids=["400", "401", "404", "410", "301", "302"],
)
def test_other_statuses_are_final_and_redirects_are_not_followed(
    tenant: Tenant, receiver: Receiver, answer: Answer
) -> None:
    subscription = _one_event(tenant, receiver, answer)
    tenant.sim.advance(3600)
    assert [hit.path for hit in receiver.hits] == ["/hook"]
    log = _only_delivery(tenant, subscription.id)
    assert (log["status"], log["attempts"], log["last_status_code"]) == (
        "failed",
        1,
        answer.status,
    )
    assert log["next_attempt_at"] is None
    assert log["last_error"] == f"HTTP {answer.status}"


def test_a_hanging_receiver_times_out_and_is_retried(tenant: Tenant, receiver: Receiver) -> None:
    subscription = _one_event(tenant, receiver, Answer(delay=2.0))
    log = _only_delivery(tenant, subscription.id)
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("retrying", 1, None)
    assert log["last_error"] == "timed out after 1 s"
    (attempt,) = log["attempt_log"]
    assert attempt["error"] == "timed out after 1 s"
    assert 1000 <= attempt["latency_ms"] < 2000
    _next_attempt_comes_after(tenant, receiver, 3)
    assert _only_delivery(tenant, subscription.id)["status"] == "succeeded"


def test_a_receiver_that_is_down_gets_the_event_once_it_is_back(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription = _subscribe(tenant, receiver)
    receiver.stop()
    send_text(tenant)
    tenant.sim.advance(0)
    down = _only_delivery(tenant, subscription.id)
    assert (down["status"], down["attempts"], down["last_status_code"]) == ("retrying", 1, None)
    assert down["last_error"].startswith("ConnectError")
    receiver.start()
    _next_attempt_comes_after(tenant, receiver, 3)
    verify(tenant, receiver.hits[0], subscription.signing_secret)
    up = _only_delivery(tenant, subscription.id)
    assert (up["status"], up["attempts"], up["last_status_code"]) == ("succeeded", 2, 200)


def test_ten_failed_attempts_over_about_25_minutes_fail_the_delivery(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription = _one_event(tenant, receiver, *[Answer(status=500)] * 11)
    for attempt in range(1, 10):
        _next_attempt_comes_after(tenant, receiver, 3 * 2 ** (attempt - 1))
    assert len(receiver.hits) == 10
    assert len({hit.headers["webhook-id"] for hit in receiver.hits}) == 1
    tenant.sim.advance(3600)
    assert len(receiver.hits) == 10
    log = _only_delivery(tenant, subscription.id)
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("failed", 10, 500)
    assert [a["status_code"] for a in log["attempt_log"]] == [500] * 10
    assert log["next_attempt_at"] is None
    assert log["delivered_at"] is None


# -- the delivery log ------------------------------------------------------------------------


def test_the_log_shows_latency_and_the_response_snippet(tenant: Tenant, receiver: Receiver) -> None:
    subscription = _one_event(
        tenant, receiver, Answer(status=202, delay=0.3, body=b'{"thanks":"got it"}')
    )
    log = _only_delivery(tenant, subscription.id)
    envelope = receiver.hits[0].event
    assert log["event_id"] == envelope["event_id"]
    assert log["event_type"] == "message.sent"
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("succeeded", 1, 202)
    assert log["last_error"] is None
    (attempt,) = log["attempt_log"]
    assert attempt["status_code"] == 202
    assert attempt["response_snippet"] == '{"thanks":"got it"}'
    assert attempt["error"] is None
    assert 300 <= attempt["latency_ms"] < 1000
    assert datetime_of(attempt["attempted_at"]) == clock_now(tenant)


def test_the_response_snippet_is_cut_at_512_bytes(tenant: Tenant, receiver: Receiver) -> None:
    subscription = _one_event(tenant, receiver, Answer(status=500, body=b"x" * 5000))
    (attempt,) = _only_delivery(tenant, subscription.id)["attempt_log"]
    assert attempt["response_snippet"] == "x" * 512


def _two_conversations(tenant: Tenant, receiver: Receiver) -> tuple[Any, list[str]]:
    """Four deliveries (sent + delivered, twice); the first one failed. Returns event ids."""
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent", "message.delivered"]
    )
    receiver.script(Answer(status=400))
    for to in ("+14155552011", "+14155552012"):
        send_text(tenant, to)
        tenant.sim.advance(0)
    return subscription, [hit.event["event_id"] for hit in receiver.hits]


def test_the_log_filters_by_status_and_event_type(tenant: Tenant, receiver: Receiver) -> None:
    subscription, events = _two_conversations(tenant, receiver)
    types = [hit.event["event_type"] for hit in receiver.hits]
    assert types == ["message.sent", "message.delivered"] * 2

    def ids(**params: Any) -> list[str]:
        return [d["event_id"] for d in _log(tenant, subscription.id, **params)["deliveries"]]

    assert ids() == list(reversed(events))  # newest first
    assert ids(status="failed") == [events[0]]
    assert ids(status="succeeded") == [events[3], events[2], events[1]]
    assert ids(status="retrying") == []
    assert ids(event_type="message.delivered") == [events[3], events[1]]
    assert ids(event_type="message.sent", status="succeeded") == [events[2]]


def test_the_log_pages_with_a_cursor(tenant: Tenant, receiver: Receiver) -> None:
    subscription, events = _two_conversations(tenant, receiver)
    first = _log(tenant, subscription.id, limit=3)
    assert [d["event_id"] for d in first["deliveries"]] == [events[3], events[2], events[1]]
    assert first["next_cursor"]
    second = _log(tenant, subscription.id, limit=3, cursor=first["next_cursor"])
    assert [d["event_id"] for d in second["deliveries"]] == [events[0]]
    assert second["next_cursor"] is None
    exact = _log(tenant, subscription.id, limit=4)
    assert exact["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"status": "lost"}, 400, None),
        ({"cursor": "not-a-cursor"}, 400, 1005),
        ({"limit": 0}, 400, None),
        ({"limit": 101}, 400, None),
    ],
)
def test_bad_log_queries_are_400(
    tenant: Tenant, receiver: Receiver, params: dict[str, Any], status: int, code: int | None
) -> None:
    subscription = _subscribe(tenant, receiver)
    response = tenant.http.get(f"{API}/{subscription.id}/deliveries", params=params)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"]["code"] == code


def test_another_accounts_log_is_404(
    tenant: Tenant, receiver: Receiver, server: RunningServer
) -> None:
    subscription = _subscribe(tenant, receiver)
    stranger = create_tenant(server)
    try:
        response = stranger.http.get(f"{API}/{subscription.id}/deliveries")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == 2010
    finally:
        stranger.client.close()
        stranger.http.close()


# -- sending again ------------------------------------------------------------------------


def test_retrying_a_failed_delivery_sends_the_same_event_again(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription = _one_event(tenant, receiver, Answer(status=400))
    failed = _only_delivery(tenant, subscription.id)
    assert failed["status"] == "failed"
    tenant.sim.advance(1)  # the attempt log is ordered by time: keep the two attempts apart
    response = tenant.http.post(f"{API}/{subscription.id}/deliveries/{failed['id']}/retry")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert len(receiver.hits) == 1  # queued, not sent inline
    tenant.sim.advance(0)
    first, again = receiver.hits
    verify(tenant, again, subscription.signing_secret)
    assert again.event["event_id"] == first.event["event_id"] == failed["event_id"]
    assert again.headers["webhook-id"] == failed["event_id"]
    done = _only_delivery(tenant, subscription.id)
    assert (done["id"], done["status"], done["last_status_code"]) == (
        failed["id"],
        "succeeded",
        200,
    )
    assert [a["status_code"] for a in done["attempt_log"]] == [400, 200]


def test_attempts_at_the_same_instant_are_logged_in_the_order_they_were_made(
    tenant: Tenant, receiver: Receiver
) -> None:
    """On a manual clock retries can share an instant: the log still keeps their order."""
    codes = [400, 410, 422, 404, 409, 200]
    subscription = _one_event(tenant, receiver, *(Answer(status=c) for c in codes))
    delivery_id = _only_delivery(tenant, subscription.id)["id"]
    for _ in codes[1:]:
        response = tenant.http.post(f"{API}/{subscription.id}/deliveries/{delivery_id}/retry")
        assert response.status_code == 202, response.text
        tenant.sim.advance(0)
    assert [h.headers["webhook-id"] for h in receiver.hits] == [
        receiver.hits[0].event["event_id"]
    ] * 6
    log = _only_delivery(tenant, subscription.id)["attempt_log"]
    assert len({a["attempted_at"] for a in log}) == 1
    assert [a["status_code"] for a in log] == codes


def test_retrying_an_unknown_delivery_is_404(tenant: Tenant, receiver: Receiver) -> None:
    subscription = _subscribe(tenant, receiver)
    response = tenant.http.post(
        f"{API}/{subscription.id}/deliveries/00000000-0000-4000-8000-000000000000/retry"
    )
    assert response.status_code == 404


def test_recover_requeues_every_failed_delivery_since_a_time(
    tenant: Tenant, receiver: Receiver
) -> None:
    since = clock_now(tenant)
    subscription = _subscribe(tenant, receiver)
    receiver.script(Answer(status=400), Answer(status=200), Answer(status=410))
    for to in ("+14155552021", "+14155552022", "+14155552023"):
        send_text(tenant, to)
        tenant.sim.advance(0)
    failed = {d["event_id"] for d in _log(tenant, subscription.id, status="failed")["deliveries"]}
    assert len(failed) == 2
    later = tenant.http.post(
        f"{API}/{subscription.id}/recover",
        json={"since": (clock_now(tenant) + timedelta(seconds=1)).isoformat()},
    )
    assert (later.status_code, later.json()) == (202, {"requeued": 0})
    response = tenant.http.post(
        f"{API}/{subscription.id}/recover", json={"since": since.isoformat()}
    )
    assert (response.status_code, response.json()) == (202, {"requeued": 2})
    tenant.sim.advance(0)
    redelivered = receiver.hits[3:]
    assert {hit.event["event_id"] for hit in redelivered} == failed
    for hit in redelivered:
        verify(tenant, hit, subscription.signing_secret)
    assert _log(tenant, subscription.id, status="failed")["deliveries"] == []
    assert len(_log(tenant, subscription.id, status="succeeded")["deliveries"]) == 3


# -- a failing endpoint is disabled after 72 hours ---------------------------------------------


def test_an_endpoint_failing_for_72_hours_is_disabled_and_can_be_re_enabled(
    tenant: Tenant, receiver: Receiver
) -> None:
    subscription = _subscribe(tenant, receiver)
    receiver.stop()
    hour = 3600.0
    send_text(tenant, "+14155552031")  # event A fails first: the endpoint fails from here
    tenant.sim.advance(0)
    tenant.sim.advance(36 * hour)  # A's retries run out within its first half hour
    send_text(tenant, "+14155552032")  # event B keeps it failing, at 36 h
    tenant.sim.advance(0)
    tenant.sim.advance(35.9 * hour)
    send_text(tenant, "+14155552035")  # event C fails at 71.9 h: not yet 72 h of failing
    tenant.sim.advance(0)
    assert _raw_subscription(tenant, subscription.id)["is_active"] is True
    # C's retries, past 72 h: the 8th comes 324-438 s after C (jitter), maybe still before
    # 72 h; the 9th by 880 s. 0.25 h holds one of them either way (0.2 h did not always).
    tenant.sim.advance(0.25 * hour)
    disabled = _raw_subscription(tenant, subscription.id)
    assert disabled["is_active"] is False
    assert disabled["disabled_reason"].startswith("endpoint failing since")
    assert tenant.client.webhook_subscriptions.retrieve(subscription.id).is_active is False
    # Nothing is sent to a disabled subscription, not even the retries it had queued.
    receiver.start()
    send_text(tenant, "+14155552033")
    tenant.sim.advance(0)
    tenant.sim.advance(hour)
    assert receiver.hits == []
    assert {d["status"] for d in _log(tenant, subscription.id)["deliveries"]} == {"failed"}

    enabled = tenant.client.webhook_subscriptions.update(subscription.id, is_active=True)
    assert enabled.is_active is True
    assert _raw_subscription(tenant, subscription.id)["disabled_reason"] is None
    send_text(tenant, "+14155552034")
    tenant.sim.advance(0)
    (hit,) = receiver.hits
    verify(tenant, hit, subscription.signing_secret)


def test_a_success_resets_the_72_hour_count(tenant: Tenant, receiver: Receiver) -> None:
    subscription = _subscribe(tenant, receiver)
    hour = 3600.0
    receiver.script(Answer(status=400))
    send_text(tenant, "+14155552041")
    tenant.sim.advance(0)  # fails: the count starts
    tenant.sim.advance(40 * hour)
    send_text(tenant, "+14155552042")
    tenant.sim.advance(0)  # succeeds: the count stops
    tenant.sim.advance(40 * hour)
    receiver.script(Answer(status=400))
    send_text(tenant, "+14155552043")
    tenant.sim.advance(0)  # fails 80 h after the first failure, but only just after a success
    assert _raw_subscription(tenant, subscription.id)["is_active"] is True


def _raw_subscription(tenant: Tenant, subscription_id: str) -> dict[str, Any]:
    response = tenant.http.get(f"{API}/{subscription_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- isolation between endpoints ------------------------------------------------------------


def test_a_slow_endpoint_does_not_hold_up_another(tenant: Tenant, receiver: Receiver) -> None:
    with running_receiver() as fast:
        slow = _subscribe(tenant, receiver)
        quick = tenant.client.webhook_subscriptions.create(
            target_url=fast.url(), subscribed_events=["message.sent"]
        )
        # 0.6 s leaves the 1 s attempt deadline room on a busy machine.
        receiver.script(*[Answer(delay=0.6)] * 3)
        for to in ("+14155552051", "+14155552052", "+14155552053"):
            send_text(tenant, to)
        tenant.sim.advance(0)
        assert len(receiver.hits) == len(fast.hits) == 3
        first_slow = min(hit.received_at for hit in receiver.hits)
        # Sent one after another, the fast copies would trail the slow answers by >= 0.6 s each.
        assert max(hit.received_at for hit in fast.hits) - first_slow < 0.5
        for hit in fast.hits:
            verify(tenant, hit, quick.signing_secret)
        assert {d["status"] for d in _log(tenant, slow.id)["deliveries"]} == {"succeeded"}


def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_timeout(
    tenant: Tenant, receiver: Receiver
) -> None:
    """The webhook timeout bounds the whole attempt: a byte every 0.2 s (6 s in all)
    passes every per-read timeout, and still ends at 1 s."""
    subscription = _one_event(tenant, receiver, Answer(body=b"x" * 30, drip=0.2))
    (attempt,) = _only_delivery(tenant, subscription.id)["attempt_log"]
    assert attempt["error"] == "timed out after 1 s"
    assert 1000 <= attempt["latency_ms"] < 2000
