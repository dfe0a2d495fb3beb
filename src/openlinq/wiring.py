"""The one place where the parts are wired together."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from openlinq.blobs.local import LocalBlobStore
from openlinq.blobs.store import BlobStore
from openlinq.config import Settings
from openlinq.console.live import LiveFeed
from openlinq.delivery.carrier import Carrier
from openlinq.delivery.routing import CarrierRegistry, RoutingCarrier
from openlinq.delivery.simulator.agentcard import SimulatedAgentcard
from openlinq.delivery.simulator.carrier import SimulatorCarrier
from openlinq.delivery.simulator.control import SimulatorControl
from openlinq.delivery.simulator.harness import Harness
from openlinq.domain.accounts import AccountService, Sandbox
from openlinq.domain.actions import ACTION_JOB, CarrierActions
from openlinq.domain.agentpay import AgentPayService
from openlinq.domain.app_cards import AppCardService
from openlinq.domain.attachments import AttachmentService
from openlinq.domain.backgrounds import BackgroundService
from openlinq.domain.blocking import BlockingService
from openlinq.domain.capability import CapabilityService
from openlinq.domain.chats import ChatService
from openlinq.domain.clock import Clock, ManualClock, SystemClock
from openlinq.domain.contact_cards import ContactCardService
from openlinq.domain.delivery import DeliveryRecorder
from openlinq.domain.edits import EditService
from openlinq.domain.events import EventLog
from openlinq.domain.groups import GroupService
from openlinq.domain.inbox import InboxService
from openlinq.domain.lines import LineService
from openlinq.domain.links import Links
from openlinq.domain.locations import LocationFeed, LocationService
from openlinq.domain.messages import MessageService
from openlinq.domain.messaging import SEND_JOB, MessagingService
from openlinq.domain.payment_requests import EXPIRE_JOB, PaymentRequestService
from openlinq.domain.polls import PollService
from openlinq.domain.reactions import ReactionService
from openlinq.domain.reputation_audits import AUDIT_JOB, REFRESH_JOB, ReputationService
from openlinq.domain.retention import BATCH, PURGE_JOB, SQLITE_BATCH, RetentionSweeper
from openlinq.domain.typing import TypingService
from openlinq.domain.voice_memos import VoiceMemoService
from openlinq.jobs.runner import JobQueue, JobRunner
from openlinq.outbound import OutboundPolicy
from openlinq.store.engine import Database
from openlinq.store.migrate import upgrade_to_head
from openlinq.store.repos.jobs import JOBS_CHANNEL
from openlinq.store.unit import Storage
from openlinq.webhooks.dispatch import DELIVER_JOB, DispatchSettings, WebhookDispatcher
from openlinq.webhooks.subscriptions import SubscriptionService


@dataclass
class Services:
    """Everything a request handler may call, built once per process."""

    settings: Settings
    clock: Clock
    db: Database
    storage: Storage
    runner: JobRunner
    carrier: Carrier
    carriers: CarrierRegistry
    sweeper: RetentionSweeper
    attachments: AttachmentService
    links: Links
    events: EventLog
    accounts: AccountService
    chats: ChatService
    inbox: InboxService
    messages: MessageService
    messaging: MessagingService
    lines: LineService
    capability: CapabilityService
    simulator: SimulatorControl
    harness: Harness
    subscriptions: SubscriptionService
    edits: EditService
    reactions: ReactionService
    typing: TypingService
    groups: GroupService
    voice_memos: VoiceMemoService
    contact_cards: ContactCardService
    locations: LocationService
    app_cards: AppCardService
    polls: PollService
    blocking: BlockingService
    backgrounds: BackgroundService
    payment_requests: PaymentRequestService
    dispatcher: WebhookDispatcher
    live: LiveFeed
    reputation: ReputationService
    agentpay: AgentPayService
    agentcard: SimulatedAgentcard


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or (ManualClock() if settings.clock == "manual" else SystemClock())
    db = Database(settings.resolved_database_url)
    storage = Storage(db)
    queue = JobQueue(clock)
    runner = JobRunner(storage, clock, lease_seconds=settings.job_lease_seconds)
    queue.on_enqueue(runner.wake)
    events = EventLog()
    links = Links(clock, settings.base_url)
    recorder = DeliveryRecorder(storage, clock, events, links)
    location_feed = LocationFeed(storage, clock, events)
    policy = OutboundPolicy(hosted=settings.hosted_mode)
    simulated = SimulatorCarrier(
        storage,
        queue,
        recorder,
        location_feed,
        policy,
        webhook_deadline=settings.fetch_deadline_seconds,
    )
    simulated.register_jobs(runner)
    attachments = AttachmentService(
        storage,
        clock,
        blob_store(settings),
        links,
        policy,
        fetch_deadline=settings.fetch_deadline_seconds,
    )
    carriers = CarrierRegistry.for_settings(
        settings,
        storage=storage,
        clock=clock,
        queue=queue,
        recorder=recorder,
        policy=policy,
        attachments=attachments,
        simulator=simulated,
    )
    carriers.register_jobs(runner)
    # Each line's own carrier (the simulator unless the operator set one): delivery/routing.py.
    carrier = RoutingCarrier(carriers)
    messaging = MessagingService(storage, clock, carrier, queue, recorder, events, attachments)
    runner.register(SEND_JOB, messaging.run_send_job)
    actions = CarrierActions(queue, carrier)
    runner.register(ACTION_JOB, actions.run)
    groups = GroupService(storage, clock, events, actions, carrier)
    dispatcher = WebhookDispatcher(
        storage,
        clock,
        queue,
        policy,
        DispatchSettings(
            timeout_seconds=settings.webhook_timeout_seconds,
            per_endpoint_concurrency=settings.webhook_endpoint_concurrency,
            disable_after_seconds=settings.webhook_disable_after_hours * 3600,
        ),
        events=events,
    )
    events.subscribe(dispatcher)
    runner.register(DELIVER_JOB, dispatcher.deliver)
    sweeper = RetentionSweeper(
        storage, clock, queue, attachments.blobs, batch=SQLITE_BATCH if db.is_sqlite else BATCH
    )
    runner.register(PURGE_JOB, sweeper.sweep)
    chats = ChatService(storage, clock, events, actions)
    hosted = settings.hosted_mode  # payments start enabled where agents test (local mode)
    payment_requests = PaymentRequestService(
        storage, clock, events, queue, settings.base_url, enabled_by_default=not hosted
    )
    runner.register(EXPIRE_JOB, payment_requests.run_expiry_job)
    accounts = AccountService(storage, clock, events)
    agentpay = AgentPayService(storage, clock, events, settings.base_url)
    polls = PollService(storage, clock, events, messaging, actions, links)
    simulator = SimulatorControl(
        storage, clock, simulated, recorder, runner, location_feed, attachments, groups, polls
    )
    simulator.register_jobs(runner)
    reputation = ReputationService(storage, clock, queue, events)
    runner.register(AUDIT_JOB, reputation.run_audit)
    runner.register(REFRESH_JOB, reputation.refresh)
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        storage=storage,
        runner=runner,
        carrier=carrier,
        carriers=carriers,
        sweeper=sweeper,
        attachments=attachments,
        events=events,
        accounts=accounts,
        harness=Harness(storage, clock, accounts, runner),
        chats=chats,
        inbox=InboxService(storage, clock, chats),
        messages=MessageService(storage),
        messaging=messaging,
        lines=LineService(storage, clock, events, links),
        links=links,
        capability=CapabilityService(storage, carrier),
        simulator=simulator,
        subscriptions=SubscriptionService(
            storage, clock, queue, events, policy, dispatcher.subscriptions
        ),
        dispatcher=dispatcher,
        edits=EditService(storage, clock, events, actions),
        reactions=ReactionService(storage, clock, events, actions, attachments),
        typing=TypingService(storage, clock, actions),
        groups=groups,
        voice_memos=VoiceMemoService(attachments, messaging, attachments.blobs),
        contact_cards=ContactCardService(storage, clock, events, actions),
        locations=LocationService(storage, clock, actions, location_feed),
        app_cards=AppCardService(storage),
        polls=polls,
        blocking=BlockingService(storage, clock),
        backgrounds=BackgroundService(storage, clock, events, actions, attachments),
        payment_requests=payment_requests,
        live=LiveFeed(storage),
        reputation=reputation,
        agentpay=agentpay,
        agentcard=SimulatedAgentcard(storage, clock, agentpay, simulator),
    )


async def start(services: Services, *, migrate: bool = True) -> Sandbox | None:
    """Migrate, load the server secret, make sure the sandbox account exists.

    In hosted mode there is no implicit sandbox: only a dev key the operator set
    makes one (None otherwise). ``migrate=False``: the caller has migrated already
    (``serve --workers N`` does once, before its API processes start).
    """
    if migrate:
        await upgrade_to_head(services.db)
    async with services.storage.write() as repos:
        await repos.locks.hold("server-secret")
        secret = await repos.settings.get("server_secret")
        if secret is None:
            secret = secrets.token_hex(32)
            await repos.settings.put("server_secret", secret)
    services.links.secret = secret
    await services.attachments.blobs.prepare()
    await services.sweeper.ensure_scheduled()
    await services.reputation.ensure_scheduled()
    if services.settings.run_worker:
        # Real carriers connect where their sends run: in the processes running the jobs.
        await services.carriers.start()
    if services.db.is_sqlite:
        # SQLite has one worker: this process. Leases left by a previous run are
        # stale, so its interrupted work resumes at once instead of after the lease.
        async with services.storage.write() as repos:
            await repos.jobs.release_leases()
    if services.settings.hosted_mode and services.settings.dev_api_key is None:
        return None
    return await services.accounts.ensure_sandbox(services.settings.dev_api_key)


@contextlib.asynccontextmanager
async def background_worker(services: Services) -> AsyncIterator[None]:
    """Run the job runner (woken by PostgreSQL NOTIFY too) for the duration of the block."""
    listener = await services.db.listen(JOBS_CHANNEL, services.runner.wake)
    worker = asyncio.create_task(services.runner.run_forever(), name="openlinq-jobs")
    try:
        yield
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        if listener is not None:
            await listener.close()


def blob_store(settings: Settings) -> BlobStore:
    if settings.s3_bucket:
        # boto3 costs ~10 MB of memory and ~0.3 s of start-up: only S3 deployments pay it.
        from openlinq.blobs.s3 import S3BlobStore

        return S3BlobStore(
            settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, prefix=settings.s3_prefix
        )
    return LocalBlobStore(settings.data_dir.resolve() / "attachments")


async def stop(services: Services) -> None:
    await services.live.close()
    await services.attachments.close()
    await services.dispatcher.close()
    await services.simulator.carrier.close()
    await services.carriers.close()
    await services.db.dispose()
