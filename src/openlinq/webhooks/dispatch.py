"""Fan-out and delivery: one signed POST per (event, subscription), retried until it lands.

``on_event`` runs inside the transaction that records an event and creates one
delivery row and one job per matching subscription, so an event is never lost
between being recorded and being queued. ``deliver`` is that job: it signs and
POSTs, logs the attempt, and schedules the next attempt itself according to
``retry.py``. A job interrupted by a crash is run again once its lease runs out
(at-least-once; receivers de-duplicate on ``event_id``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from openlinq import metrics
from openlinq.domain.clock import Clock, SystemClock
from openlinq.domain.ids import new_id
from openlinq.jobs.runner import JobQueue
from openlinq.logs import redact_url
from openlinq.outbound import OutboundPolicy, pinned_request
from openlinq.store.repos import Repos
from openlinq.store.repos.events import StoredEvent
from openlinq.store.repos.webhooks import Attempt, Delivery, Subscription
from openlinq.store.unit import Storage
from openlinq.webhooks.catalogue import V2026, V2026_ONLY, payload_version
from openlinq.webhooks.payloads import chat_id_of, envelope
from openlinq.webhooks.retry import Outcome, next_delay, parse_retry_after
from openlinq.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

DELIVER_JOB = "webhook.deliver"
DEFAULT_ROUTING_ID_HEADER = "Linq-Chat-Id"
SNIPPET_BYTES = 512
TERMINAL = frozenset({"succeeded", "failed"})


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    timeout_seconds: float = 10.0
    per_endpoint_concurrency: int = 4
    disable_after_seconds: float = 72 * 3600.0
    busy_retry_seconds: float = 0.25


def subscribed(subscription: Subscription, event: StoredEvent) -> bool:
    if not subscription.is_active or event.type not in subscription.subscribed_events:
        return False
    if event.type in V2026_ONLY and payload_version(subscription.target_url) != V2026:
        return False
    lines = subscription.phone_numbers
    return not lines or event.phone_number is None or event.phone_number in lines


@dataclass(frozen=True, slots=True)
class _Sent:
    outcome: Outcome
    latency_ms: int
    snippet: str | None
    routing_token: str | None
    request_headers: dict[str, str]
    request_body: str


class WebhookDispatcher:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        queue: JobQueue,
        policy: OutboundPolicy,
        settings: DispatchSettings,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.queue = queue
        self.policy = policy
        self.settings = settings
        self.rng = rng or random.Random()
        # Signature timestamps are wall-clock time even when the simulator's clock is
        # manual: receivers check them against their own clocks.
        self.wall_clock = SystemClock()
        self._in_flight: dict[str, int] = defaultdict(int)
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                follow_redirects=False,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                headers={"user-agent": "openlinq-webhooks/1"},
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- fan-out (an event sink) -----------------------------------------------------

    async def on_event(self, repos: Repos, event: StoredEvent) -> None:
        for subscription in await repos.webhooks.of_account(event.account_id):
            if subscribed(subscription, event):
                delivery_id = await repos.webhooks.add_delivery(subscription, event)
                await self.queue.schedule(repos, DELIVER_JOB, {"delivery_id": delivery_id})

    # -- one attempt -----------------------------------------------------------------

    async def deliver(self, payload: dict[str, Any]) -> None:
        async with self.storage.read() as repos:
            delivery = await repos.webhooks.delivery(payload["delivery_id"])
            if delivery is None or delivery.status in TERMINAL:
                return
            subscription = await repos.webhooks.get(delivery.account_id, delivery.subscription_id)
            event = await repos.webhooks.event(delivery.event_id)
        if subscription is None or event is None:
            return
        if not subscription.is_active:
            await self._finish(delivery, "failed", error="the subscription is disabled")
            return
        if self._in_flight[subscription.id] >= self.settings.per_endpoint_concurrency:
            # This endpoint is saturated: step aside so others' events keep flowing.
            async with self.storage.write() as repos:
                await self.queue.schedule(
                    repos, DELIVER_JOB, payload, delay=self.settings.busy_retry_seconds
                )
            return
        self._in_flight[subscription.id] += 1
        try:
            sent = await self._post(subscription, event)
        finally:
            self._in_flight[subscription.id] -= 1
        await self._record(delivery, subscription, event, sent)

    async def _post(self, subscription: Subscription, event: StoredEvent) -> _Sent:
        version = payload_version(subscription.target_url)
        body = envelope(event, version, event.account_id)
        headers = signed_headers(
            subscription.secret,
            event_id=event.id,
            event_type=event.type,
            subscription_id=subscription.id,
            body=body,
            sent_at=self.wall_clock.now(),
        )
        headers.update(await self._routing_headers(subscription, event))
        # What the log shows as sent: the headers httpx put on the wire once the request
        # is built (until then, ours). Signatures only, never the secret.
        sent_headers = dict(headers)
        started = time.perf_counter()
        try:
            # The timeout bounds the whole attempt, not each read: an endpoint that
            # drips its answer cannot hold a delivery slot for longer.
            async with asyncio.timeout(self.settings.timeout_seconds):
                target = await self.policy.resolve(subscription.target_url)
                url, pin_headers, extensions = pinned_request(target)
                headers.update(pin_headers)
                request = self.http.build_request(
                    "POST",
                    url,
                    content=body,
                    headers=headers,
                    timeout=self.settings.timeout_seconds,
                    extensions=extensions,
                )
                sent_headers = dict(request.headers)
                response = await self.http.send(request, stream=True)
                try:
                    snippet = await _read_snippet(response)
                finally:
                    await response.aclose()
                outcome = Outcome(
                    response.status_code,
                    None if response.is_success else f"HTTP {response.status_code}",
                    parse_retry_after(response.headers.get("retry-after")),
                )
                token = (
                    response.headers.get(subscription.routing_key_header)
                    if subscription.routing_key_header and response.is_success
                    else None
                )
        except PermissionError as exc:
            outcome, snippet, token = Outcome(None, f"refused: {exc}", refused=True), None, None
        except (httpx.TimeoutException, TimeoutError):
            outcome, snippet, token = (
                Outcome(
                    None, f"timed out after {self.settings.timeout_seconds:g} s", timed_out=True
                ),
                None,
                None,
            )
        except (httpx.TransportError, OSError) as exc:
            outcome, snippet, token = Outcome(None, f"{type(exc).__name__}: {exc}"), None, None
        latency = int((time.perf_counter() - started) * 1000)
        return _Sent(outcome, latency, snippet, token, sent_headers, body.decode())

    async def _routing_headers(
        self, subscription: Subscription, event: StoredEvent
    ) -> dict[str, str]:
        chat_id = chat_id_of(event)
        if not subscription.routing_key_header or chat_id is None:
            return {}
        headers = {subscription.routing_id_header or DEFAULT_ROUTING_ID_HEADER: chat_id}
        async with self.storage.read() as repos:
            token = await repos.webhooks.routing_token(subscription.id, chat_id)
        if token:
            headers[subscription.routing_key_header] = token
        return headers

    async def _record(
        self, delivery: Delivery, subscription: Subscription, event: StoredEvent, sent: _Sent
    ) -> None:
        now = self.clock.now()
        attempt = delivery.attempts + 1
        outcome = sent.outcome
        metrics.webhook_attempt(outcome, event.created_at, now)
        async with self.storage.write() as repos:
            await repos.webhooks.add_attempt(
                Attempt(
                    id=new_id(),
                    delivery_id=delivery.id,
                    attempted_at=now,
                    status_code=outcome.status_code,
                    latency_ms=sent.latency_ms,
                    error=outcome.error,
                    response_snippet=sent.snippet,
                    request_headers=sent.request_headers,
                    request_body=sent.request_body,
                )
            )
            common: dict[str, Any] = {
                "attempts": attempt,
                "last_status_code": outcome.status_code,
                "last_error": outcome.error,
                "updated_at": now,
            }
            if outcome.succeeded:
                await repos.webhooks.update_delivery(
                    delivery.id,
                    status="succeeded",
                    delivered_at=now,
                    next_attempt_at=None,
                    **common,
                )
                if subscription.failing_since is not None:
                    await repos.webhooks.update(subscription.id, failing_since=None)
                chat_id = chat_id_of(event)
                if sent.routing_token and chat_id:
                    await repos.webhooks.remember_routing_token(
                        subscription.id, chat_id, sent.routing_token, now
                    )
                _log_attempt(repos, delivery, subscription, event, sent, attempt, now, None)
                return
            delay = next_delay(attempt, outcome, self.rng)
            _log_attempt(repos, delivery, subscription, event, sent, attempt, now, delay)
            if delay is None:
                await repos.webhooks.update_delivery(
                    delivery.id, status="failed", next_attempt_at=None, **common
                )
            else:
                await repos.webhooks.update_delivery(
                    delivery.id,
                    status="retrying",
                    next_attempt_at=now + timedelta(seconds=delay),
                    **common,
                )
                await self.queue.schedule(
                    repos, DELIVER_JOB, {"delivery_id": delivery.id}, delay=delay
                )
            await self._note_failure(repos, subscription, now)

    async def _note_failure(self, repos: Repos, subscription: Subscription, now: Any) -> None:
        """Disable a subscription whose endpoint has failed for too long without a success."""
        if subscription.failing_since is None:
            await repos.webhooks.update(subscription.id, failing_since=now)
            return
        failing_for = (now - subscription.failing_since).total_seconds()
        if failing_for >= self.settings.disable_after_seconds:
            log.warning(
                "disabling webhook subscription %s: failing since %s",
                subscription.id,
                subscription.failing_since,
            )
            await repos.webhooks.update(
                subscription.id,
                is_active=False,
                disabled_reason=f"endpoint failing since {subscription.failing_since.isoformat()}",
                updated_at=now,
            )

    async def _finish(self, delivery: Delivery, status: str, *, error: str) -> None:
        async with self.storage.write() as repos:
            await repos.webhooks.update_delivery(
                delivery.id,
                status=status,
                last_error=error,
                next_attempt_at=None,
                updated_at=self.clock.now(),
            )


def _log_attempt(
    repos: Repos,
    delivery: Delivery,
    subscription: Subscription,
    event: StoredEvent,
    sent: _Sent,
    attempt: int,
    now: datetime,
    delay: float | None,
) -> None:
    """One line per attempt, once it is recorded: INFO when it landed; a WARNING with the
    status or error and when the next attempt is due when it did not; an ERROR when the
    delivery is given up."""
    outcome = sent.outcome
    url = redact_url(subscription.target_url)
    fields: dict[str, Any] = {
        "url": url,
        "event_type": event.type,
        "event_id": event.id,
        "delivery_id": delivery.id,
        "subscription_id": subscription.id,
        "attempt": attempt,
        "status": outcome.status_code,
        "error": outcome.error,
        "ms": sent.latency_ms,
        "trace_id": event.trace_id,
    }
    if outcome.succeeded:
        level, text = logging.INFO, f"webhook {event.type} → {url} {outcome.status_code}"
        text += f" in {sent.latency_ms} ms"
    elif delay is None:
        level = logging.ERROR
        text = f"webhook {event.type} → {url} failed: {outcome.error}"
        text += f"; gave up after {attempt} attempt{'s' if attempt > 1 else ''}"
    else:
        level = logging.WARNING
        text = f"webhook {event.type} → {url} failed: {outcome.error} (attempt {attempt})"
        retry_at = now + timedelta(seconds=delay)
        text += f"; next attempt at {retry_at.isoformat(timespec='seconds')}"
        text += f" (in {delay:.1f} s)"
        fields["next_attempt_at"] = retry_at.isoformat()
    if log.isEnabledFor(level):
        repos.after_commit(lambda: log.log(level, "%s", text, extra=fields))


async def _read_snippet(response: httpx.Response) -> str | None:
    collected = b""
    async for chunk in response.aiter_bytes():
        collected += chunk
        if len(collected) >= SNIPPET_BYTES:
            break
    return collected[:SNIPPET_BYTES].decode("utf-8", "replace") if collected else None
