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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from openlinq import metrics
from openlinq.domain.clock import Clock, SystemClock
from openlinq.domain.events import EventLog
from openlinq.domain.ids import new_id
from openlinq.jobs.runner import JobQueue
from openlinq.logs import redact_url
from openlinq.outbound import OutboundPolicy, ResolvedTarget, pinned_request
from openlinq.store.repos import Repos
from openlinq.store.repos.events import StoredEvent
from openlinq.store.repos.webhooks import Attempt, Delivery, DeliveryOutcome, Subscription
from openlinq.store.unit import Storage
from openlinq.webhooks.account_events import subscription_event_data
from openlinq.webhooks.batch import GroupCall
from openlinq.webhooks.cache import SubscriptionCache
from openlinq.webhooks.catalogue import V2026, V2026_ONLY, payload_version
from openlinq.webhooks.http import WebhookClient
from openlinq.webhooks.payloads import chat_id_of, envelope
from openlinq.webhooks.retry import Outcome, next_delay, parse_retry_after
from openlinq.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

DELIVER_JOB = "webhook.deliver"
DEFAULT_ROUTING_ID_HEADER = "Linq-Chat-Id"
SNIPPET_BYTES = 512
TERMINAL = frozenset({"succeeded", "failed"})
WAITING_PER_SLOT = 4
# Parsed targets kept for local mode (no DNS check to repeat): one per subscription URL.
KNOWN_TARGETS = 4096


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


@dataclass(frozen=True, slots=True)
class _Loaded:
    delivery: Delivery
    subscription: Subscription
    event: StoredEvent
    routing_token: str | None


@dataclass(frozen=True, slots=True)
class _Done:
    loaded: _Loaded
    sent: _Sent
    now: datetime


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
        events: EventLog | None = None,
    ) -> None:
        self.storage = storage
        # Where the dispatcher announces what it does on its own (an automatic disable).
        self.events = events or EventLog()
        self.clock = clock
        self.queue = queue
        self.policy = policy
        self.settings = settings
        self.rng = rng or random.Random()
        # Signature timestamps are wall-clock time even when the simulator's clock is
        # manual: receivers check them against their own clocks.
        self.wall_clock = SystemClock()
        self.subscriptions = SubscriptionCache(enabled=storage.db.is_sqlite)
        self.http = WebhookClient()
        # Deliveries to one endpoint beyond its concurrency wait here, in order; beyond
        # WAITING_PER_SLOT per slot they step aside (busy_retry_seconds) so a slow
        # endpoint's backlog never holds every job slot.
        self._endpoints: dict[str, _Endpoint] = {}
        self._targets: dict[str, ResolvedTarget] = {}
        self._load = GroupCall(self._load_batch)
        self._record = GroupCall(self._record_batch)

    async def close(self) -> None:
        await self.http.aclose()

    # -- fan-out (an event sink) -----------------------------------------------------

    async def on_event(self, repos: Repos, event: StoredEvent) -> None:
        found = await self.subscriptions.of_account(repos, event.account_id)
        matching = [s for s in found if subscribed(s, event)]
        if matching:
            ids = await repos.webhooks.add_deliveries(matching, event)
            await self.queue.schedule_many(repos, DELIVER_JOB, [{"delivery_id": i} for i in ids])

    # -- one attempt -----------------------------------------------------------------

    async def deliver(self, payload: dict[str, Any]) -> None:
        loaded = await self._load(payload["delivery_id"])
        if loaded is None:
            return
        subscription = loaded.subscription
        if not subscription.is_active:
            await self._finish(loaded.delivery, "failed", error="the subscription is disabled")
            return
        endpoint = self._endpoints.get(subscription.id)
        if endpoint is None:
            endpoint = self._endpoints[subscription.id] = _Endpoint(
                self.settings.per_endpoint_concurrency
            )
        if endpoint.users >= (1 + WAITING_PER_SLOT) * self.settings.per_endpoint_concurrency:
            # This endpoint is saturated: step aside so others' events keep flowing.
            async with self.storage.write() as repos:
                await self.queue.schedule(
                    repos, DELIVER_JOB, payload, delay=self.settings.busy_retry_seconds
                )
            return
        endpoint.users += 1
        try:
            async with endpoint.slots:
                sent = await self._post(loaded)
        finally:
            endpoint.users -= 1
            if not endpoint.users:
                del self._endpoints[subscription.id]  # idle endpoints cost nothing
        await self._record(_Done(loaded, sent, self.clock.now()))

    async def _load_batch(self, delivery_ids: list[str]) -> list[_Loaded | None]:
        """Everything the attempts of ``delivery_ids`` need, in one read transaction."""
        generation = self.subscriptions.generation
        async with self.storage.read() as repos:
            found = await repos.webhooks.deliveries_with_events(list(set(delivery_ids)))
            live = {i: pair for i, pair in found.items() if pair[0].status not in TERMINAL}
            subscriptions: dict[str, Subscription] = {}
            if self.subscriptions.enabled:
                for account_id in {d.account_id for d, _ in live.values()}:
                    for s in await self.subscriptions.of_account(repos, account_id, generation):
                        subscriptions[s.id] = s
            elif live:
                wanted = list({d.subscription_id for d, _ in live.values()})
                subscriptions = await repos.webhooks.subscriptions(wanted)
            loaded: dict[str, _Loaded] = {}
            for delivery_id, (delivery, event) in live.items():
                subscription = subscriptions.get(delivery.subscription_id)
                if subscription is None:
                    continue
                token = None
                chat_id = chat_id_of(event)
                if subscription.routing_key_header and chat_id is not None:
                    token = await repos.webhooks.routing_token(subscription.id, chat_id)
                loaded[delivery_id] = _Loaded(delivery, subscription, event, token)
        return [loaded.get(i) for i in delivery_ids]

    async def _post(self, loaded: _Loaded) -> _Sent:
        subscription, event = loaded.subscription, loaded.event
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
        headers.update(_routing_headers(loaded))
        # What the log shows as sent: the headers put on the wire once the request is
        # built (until then, ours). Signatures only, never the secret.
        sent_headers = dict(headers)
        started = time.perf_counter()
        token = snippet = None
        try:
            # The timeout bounds the whole attempt, not each read: an endpoint that
            # drips its answer cannot hold a delivery slot for longer.
            async with asyncio.timeout(self.settings.timeout_seconds):
                target = await self._resolve(subscription.target_url)
                url, pin_headers, extensions = pinned_request(target)
                headers.update(pin_headers)
                request, sent_headers = self.http.request_headers(url, headers, body)
                answer = await self.http.post(
                    request,
                    sent_headers,
                    body,
                    sni_hostname=extensions.get("sni_hostname"),
                    snippet_bytes=SNIPPET_BYTES,
                )
            snippet = answer.snippet.decode("utf-8", "replace") if answer.snippet else None
            outcome = Outcome(
                answer.status_code,
                None if answer.is_success else f"HTTP {answer.status_code}",
                parse_retry_after(answer.headers.get("retry-after")),
            )
            if subscription.routing_key_header and answer.is_success:
                token = answer.headers.get(subscription.routing_key_header.lower())
        except PermissionError as exc:
            outcome = Outcome(None, f"refused: {exc}", refused=True)
        except TimeoutError:
            outcome = Outcome(
                None, f"timed out after {self.settings.timeout_seconds:g} s", timed_out=True
            )
        except (OSError, EOFError) as exc:  # asyncio.IncompleteReadError is an EOFError
            outcome = Outcome(None, f"{type(exc).__name__}: {exc}")
        latency = int((time.perf_counter() - started) * 1000)
        return _Sent(outcome, latency, snippet, token, sent_headers, body.decode())

    async def _resolve(self, url: str) -> ResolvedTarget:
        """The policy's check of ``url``; parsed once per URL in local mode, where it is
        only parsing (hosted mode resolves and checks the address every time: DNS changes)."""
        if self.policy.hosted:
            return await self.policy.resolve(url)
        target = self._targets.get(url)
        if target is None:
            target = await self.policy.resolve(url)  # a refusal is never kept
            if len(self._targets) >= KNOWN_TARGETS:
                self._targets.clear()
            self._targets[url] = target
        return target

    async def _record_batch(self, done: list[_Done]) -> list[None]:
        """Log the attempts and move each delivery on, all in one write transaction."""
        endpoints = _Endpoints()
        async with self.storage.write() as repos:
            await repos.webhooks.add_attempts(
                [
                    Attempt(
                        id=new_id(),
                        delivery_id=d.loaded.delivery.id,
                        attempted_at=d.now,
                        status_code=d.sent.outcome.status_code,
                        latency_ms=d.sent.latency_ms,
                        error=d.sent.outcome.error,
                        response_snippet=d.sent.snippet,
                        request_headers=d.sent.request_headers,
                        request_body=d.sent.request_body,
                    )
                    for d in done
                ]
            )
            outcomes = [await self._outcome(repos, d, endpoints) for d in done]
            await repos.webhooks.record_outcomes(outcomes)
            for subscription in endpoints.seen.values():
                await self._note_health(repos, subscription, endpoints)
        return [None] * len(done)

    async def _outcome(self, repos: Repos, done: _Done, endpoints: _Endpoints) -> DeliveryOutcome:
        delivery, subscription = done.loaded.delivery, done.loaded.subscription
        event, sent, now = done.loaded.event, done.sent, done.now
        attempt = delivery.attempts + 1
        outcome = sent.outcome
        metrics.webhook_attempt(outcome, event.created_at, now)
        endpoints.saw(subscription, now, outcome.succeeded)
        base = DeliveryOutcome(
            delivery_id=delivery.id,
            status="succeeded",
            attempts=attempt,
            last_status_code=outcome.status_code,
            last_error=outcome.error,
            delivered_at=None,
            next_attempt_at=None,
            updated_at=now,
        )
        if outcome.succeeded:
            chat_id = chat_id_of(event)
            if sent.routing_token and chat_id:
                await repos.webhooks.remember_routing_token(
                    subscription.id, chat_id, sent.routing_token, now
                )
            _log_attempt(repos, delivery, subscription, event, sent, attempt, now, None)
            return replace(base, delivered_at=now)
        delay = next_delay(attempt, outcome, self.rng)
        _log_attempt(repos, delivery, subscription, event, sent, attempt, now, delay)
        if delay is None:
            return replace(base, status="failed")
        await self.queue.schedule(repos, DELIVER_JOB, {"delivery_id": delivery.id}, delay=delay)
        return replace(base, status="retrying", next_attempt_at=now + timedelta(seconds=delay))

    async def _note_health(
        self, repos: Repos, subscription: Subscription, endpoints: _Endpoints
    ) -> None:
        """Note when an endpoint started failing, or that it recovered; disable one that
        has failed for too long without a success."""
        failing_since = endpoints.failing_since[subscription.id]
        if failing_since != subscription.failing_since:
            self.subscriptions.changing(repos, subscription.account_id)
            if failing_since is None:
                await repos.webhooks.update(subscription.id, failing_since=None)
            else:
                await repos.webhooks.mark_failing(subscription.id, failing_since)
            return
        failed_at = endpoints.failed_at.get(subscription.id)
        if failing_since is None or failed_at is None:
            return
        if (failed_at - failing_since).total_seconds() >= self.settings.disable_after_seconds:
            log.warning(
                "disabling webhook subscription %s: failing since %s",
                subscription.id,
                failing_since,
            )
            self.subscriptions.changing(repos, subscription.account_id)
            await repos.webhooks.update(
                subscription.id,
                is_active=False,
                disabled_reason=f"endpoint failing since {failing_since.isoformat()}",
                updated_at=failed_at,
            )
            if subscription.is_active:
                summary = "Webhook subscription disabled: its endpoint kept failing"
                data = subscription_event_data(subscription, summary, failed_at, origin="linq")
                await self.events.record(
                    repos,
                    subscription.account_id,
                    "webhook_subscription.disabled",
                    data,
                    phone_number=None,
                    now=failed_at,
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


class _Endpoint:
    """One endpoint's slots, and the deliveries holding or awaiting one."""

    def __init__(self, concurrency: int) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.users = 0


class _Endpoints:
    """What one batch of attempts says about each endpoint, in the order they finished."""

    def __init__(self) -> None:
        self.seen: dict[str, Subscription] = {}
        self.failing_since: dict[str, datetime | None] = {}
        self.failed_at: dict[str, datetime] = {}

    def saw(self, subscription: Subscription, now: datetime, succeeded: bool) -> None:
        self.seen.setdefault(subscription.id, subscription)
        since = self.failing_since.get(subscription.id, subscription.failing_since)
        if succeeded:
            self.failing_since[subscription.id] = None
            self.failed_at.pop(subscription.id, None)
        else:
            self.failing_since[subscription.id] = since or now
            self.failed_at[subscription.id] = now


def _routing_headers(loaded: _Loaded) -> dict[str, str]:
    subscription = loaded.subscription
    chat_id = chat_id_of(loaded.event)
    if not subscription.routing_key_header or chat_id is None:
        return {}
    headers = {subscription.routing_id_header or DEFAULT_ROUTING_ID_HEADER: chat_id}
    if loaded.routing_token:
        headers[subscription.routing_key_header] = loaded.routing_token
    return headers


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
