"""Per-line carriers: each line sends through the carrier it names (the simulator by default).

``CarrierRegistry`` keeps each line's carrier name and settings (sealed, see
sealing.py), builds one carrier instance per configured line on first use, and finds
the line of an inbound request by its URL token. ``RoutingCarrier`` is the Carrier the
rest of the server sees: a send or action goes to the carrier of its ``from_number``.

Capabilities are asked before a line is picked, so ``RoutingCarrier.capabilities``
answers for the account: the union of what the carriers of its sendable lines report
(one line of each kind is asked; lines without a carrier stand for the simulator).
A real carrier reports only the services it can carry, so a chat never opens on a
service none of the account's lines reaches.

Which carrier a number uses is cached for ``ROUTE_TTL`` seconds (real time): a change
made in this process applies at once, one made by another process (the CLI, another
API process) within that delay.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, TypeVar, cast

from openlinq.config import Settings
from openlinq.delivery.carrier import Carrier, ChatAction, OutboundMessage
from openlinq.delivery.sealing import SecretBox
from openlinq.domain.attachments import AttachmentService
from openlinq.domain.clock import Clock
from openlinq.domain.delivery import DeliveryRecorder
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import AccountId, LineId
from openlinq.domain.models import Service
from openlinq.jobs.runner import JobQueue, JobRunner
from openlinq.outbound import OutboundPolicy
from openlinq.store.repos import Repos
from openlinq.store.repos.line_carriers import LineCarrierRow
from openlinq.store.unit import Storage

log = logging.getLogger(__name__)

SIMULATOR = "simulator"
ROUTE_TTL = 5.0
# Entries cached per map before it is emptied (a bound, not a tuning knob).
MAX_CACHED = 10_000
MASK = "••••"
# Every real carrier's gateway is probed this often (a job: the injected clock drives it).
PROBE_JOB = "carriers.probe"
PROBE_EVERY_SECONDS = 60.0

K = TypeVar("K")
V = TypeVar("V")


class CarrierSettings(Protocol):
    """What a carrier's settings dataclass offers (delivery/<name>/settings.py)."""

    SECRET_FIELDS: ClassVar[frozenset[str]]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self: ...

    def to_dict(self) -> dict[str, Any]: ...


class LineCarrier(Carrier):
    """A real carrier: one instance per line, started where sends run."""

    async def start(self) -> None:
        """Connect (bind, register webhooks); called in each process running the jobs."""

    async def close(self) -> None:
        """Let go of connections; the instance is not used again."""

    async def probe(self) -> None:
        """Check the gateway answers; report a change through the recorder (periodic job)."""

    @classmethod
    def never_carries(cls, kind: str, data: dict[str, Any]) -> LinqError | None:
        """Why this kind of carrier can never carry the action ``kind`` (None: it may)."""
        return None

    async def refusal(
        self, repos: Repos, from_number: str, kind: str, data: dict[str, Any]
    ) -> LinqError | None:
        return self.never_carries(kind, data)


class CarrierFactory(Protocol):
    """A real carrier's constructor: the registry calls it with exactly these arguments."""

    def __call__(
        self,
        settings: Any,
        *,
        account_id: AccountId,
        line_id: LineId,
        phone_number: str,
        inbound_url: str,
        storage: Storage,
        clock: Clock,
        queue: JobQueue,
        recorder: DeliveryRecorder,
        policy: OutboundPolicy,
        attachments: AttachmentService,
    ) -> LineCarrier: ...


@dataclass(frozen=True, slots=True)
class CarrierKind:
    """Where a carrier's parts live, as ``module:attribute``; imported only when used."""

    name: str
    settings: str
    carrier: str
    inbound: str | None = None

    def settings_type(self) -> type[CarrierSettings]:
        return cast("type[CarrierSettings]", _load(self.settings))

    def carrier_type(self) -> CarrierFactory:
        return cast("CarrierFactory", _load(self.carrier))

    def carrier_class(self) -> type[LineCarrier]:
        return cast("type[LineCarrier]", _load(self.carrier))


KINDS: dict[str, CarrierKind] = {
    "bluebubbles": CarrierKind(
        "bluebubbles",
        settings="openlinq.delivery.bluebubbles.settings:BlueBubblesSettings",
        carrier="openlinq.delivery.bluebubbles.carrier:BlueBubblesCarrier",
        inbound="openlinq.delivery.bluebubbles.inbound:router",
    ),
    "smpp": CarrierKind(
        "smpp",
        settings="openlinq.delivery.smpp.settings:SmppSettings",
        carrier="openlinq.delivery.smpp.carrier:SmppCarrier",
    ),
}


def _load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def parse_setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` as the CLI and the console take it: digits make a number."""
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        # Never the text itself: a mistyped "password:hunter22" is a secret.
        raise LinqError(ErrorCode.INVALID_PARAMETER, "a setting is KEY=VALUE (no '=' found)")
    return key, int(value) if value.strip().isdigit() else value


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def masked(settings: Mapping[str, Any], secret_fields: frozenset[str]) -> dict[str, Any]:
    """``settings`` with every secret replaced by a mask (what logs and screens show)."""
    return {k: (MASK if k in secret_fields and v else v) for k, v in settings.items()}


@dataclass(frozen=True, slots=True)
class LineCarrierView:
    """A line's carrier as the operator sees it: secrets masked."""

    phone_number: str
    carrier: str
    settings: dict[str, Any]
    # Only right after a change (like an API key, shown once): the URL carries the token.
    inbound_url: str | None = None
    # False when the line already had exactly this carrier and these settings (nothing
    # written), and for a view that only shows.
    changed: bool = True


@dataclass(frozen=True, slots=True)
class _Built:
    sealed: str
    carrier: LineCarrier


class CarrierRegistry:
    def __init__(
        self,
        *,
        storage: Storage,
        clock: Clock,
        queue: JobQueue,
        recorder: DeliveryRecorder,
        policy: OutboundPolicy,
        attachments: AttachmentService,
        simulator: Carrier,
        box: SecretBox,
        base_url: str,
        kinds: Mapping[str, CarrierKind] = KINDS,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.queue = queue
        self.recorder = recorder
        self.policy = policy
        # Attachments' bytes (outbound media) and storing files a gateway received.
        self.attachments = attachments
        self.simulator = simulator
        self.box = box
        self.base_url = base_url
        self.kinds = dict(kinds)
        self._built: dict[str, _Built] = {}  # by line id
        self._routes: dict[str, tuple[float, LineCarrierRow | None]] = {}  # by number
        self._accounts: dict[AccountId, tuple[float, list[LineCarrierRow], bool]] = {}
        self._started = False
        self._building = asyncio.Lock()

    @classmethod
    def for_settings(cls, settings: Settings, **parts: Any) -> CarrierRegistry:
        box = SecretBox(settings.carrier_key, settings.data_dir.resolve())
        return cls(box=box, base_url=settings.base_url, **parts)

    # -- routing ------------------------------------------------------------------

    async def for_number(self, phone_number: str) -> Carrier:
        """The carrier that sends for ``phone_number`` (the simulator if none is set)."""
        row = await self._route(phone_number)
        return self.simulator if row is None else await self._instance(row)

    async def for_account(self, account_id: AccountId) -> list[Carrier]:
        """One carrier of each kind the account's sendable lines use."""
        rows, has_simulated = await self._account_routes(account_id)
        carriers: list[Carrier] = [self.simulator] if has_simulated else []
        seen: set[str] = set()
        for row in rows:
            if row.carrier not in seen:
                seen.add(row.carrier)
                carriers.append(await self._instance(row))
        return carriers

    async def refusal(
        self, repos: Repos, phone_number: str, kind: str, data: dict[str, Any]
    ) -> LinqError | None:
        """The line's carrier's refusal of ``kind``, without building or starting it (the
        caller holds the transaction ``repos``: no gateway I/O, no transaction of our own). A
        carrier not built in this process yet answers only what its kind can never carry."""
        row = await self._route(phone_number, repos)
        if row is None:
            return await self.simulator.refusal(repos, phone_number, kind, data)
        built = self._built.get(row.line_id)
        if built and built.sealed == row.sealed:
            return await built.carrier.refusal(repos, phone_number, kind, data)
        return self.kinds[row.carrier].carrier_class().never_carries(kind, data)

    async def inbound(self, name: str, token: str) -> Carrier:
        """The carrier of the line whose inbound URL carries ``token``."""
        async with self.storage.read() as repos:
            row = await repos.line_carriers.by_token_hash(token_hash(token))
        if row is None or row.carrier != name:
            raise LinqError(ErrorCode.UNAUTHORIZED, "unknown carrier endpoint")
        return await self._instance(row)

    async def _route(self, phone_number: str, within: Repos | None = None) -> LineCarrierRow | None:
        cached = self._routes.get(phone_number)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        if within is not None:
            row = await within.line_carriers.by_number(phone_number)
        else:
            async with self.storage.read() as repos:
                row = await repos.line_carriers.by_number(phone_number)
        _bounded(self._routes)[phone_number] = (time.monotonic() + ROUTE_TTL, row)
        return row

    async def _account_routes(self, account_id: AccountId) -> tuple[list[LineCarrierRow], bool]:
        cached = self._accounts.get(account_id)
        if cached and cached[0] > time.monotonic():
            return cached[1], cached[2]
        async with self.storage.read() as repos:
            lines = [line for line in await repos.lines.of_account(account_id) if line.can_send]
            rows = await repos.line_carriers.all_of_account(account_id)
        sendable = {line.id for line in lines}
        rows = [r for r in rows if r.line_id in sendable]
        # No sendable line at all: the simulator answers, as it always has.
        has_simulated = len(rows) < len(lines) or not lines
        _bounded(self._accounts)[account_id] = (time.monotonic() + ROUTE_TTL, rows, has_simulated)
        return rows, has_simulated

    async def _instance(self, row: LineCarrierRow) -> LineCarrier:
        built = self._built.get(row.line_id)
        if built and built.sealed == row.sealed:
            return built.carrier
        async with self._building:  # one instance per line, even when asked at once
            built = self._built.get(row.line_id)
            if built and built.sealed == row.sealed:
                return built.carrier
            if built:
                await built.carrier.close()
            carrier = self._build(row)
            if self._started:
                await carrier.start()
            self._built[row.line_id] = _Built(row.sealed, carrier)
            return carrier

    def _build(self, row: LineCarrierRow) -> LineCarrier:
        kind = self.kinds[row.carrier]
        opened = self.box.open(row.sealed)
        return kind.carrier_type()(
            kind.settings_type().from_dict(opened["settings"]),
            account_id=row.account_id,
            line_id=row.line_id,
            phone_number=row.phone_number,
            inbound_url=self.inbound_url(row.carrier, opened["token"]),
            storage=self.storage,
            clock=self.clock,
            queue=self.queue,
            recorder=self.recorder,
            policy=self.policy,
            attachments=self.attachments,
        )

    def inbound_url(self, name: str, token: str) -> str:
        return f"{self.base_url}/carriers/{name}/{token}"

    # -- configuration ------------------------------------------------------------

    async def configure(
        self, account_id: AccountId, phone_number: str, name: str, settings: Mapping[str, Any]
    ) -> LineCarrierView:
        """Make the account's line send through ``name`` with ``settings`` (validated first)."""
        sealed_settings = self.validated(name, settings)
        async with self.storage.write() as repos:
            line = await repos.lines.by_number(account_id, phone_number)
            if line is None:
                raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{phone_number} is not your line")
            current = await repos.line_carriers.of_line(line.id)
            if self._unchanged(current, name, sealed_settings):
                # Rewriting would rebuild its carrier (a new bind, a new webhook) for nothing.
                return LineCarrierView(
                    phone_number, name, self._masked(name, sealed_settings or {}), changed=False
                )
            if sealed_settings is None:
                await repos.line_carriers.remove(line.id)
                token = None
            else:
                # The same carrier keeps its token: the URL configured on the gateway stays valid.
                same = current is not None and current.carrier == name
                token = (
                    self.box.open(current.sealed)["token"]
                    if same and current is not None
                    else secrets.token_urlsafe(32)
                )
                sealed = self.box.seal({"settings": sealed_settings, "token": token})
                await repos.line_carriers.put(
                    line.id, name, token_hash(token), sealed, self.clock.now()
                )
                await self._schedule_probe(repos)
        self._forget(phone_number, account_id)
        built = self._built.pop(line.id, None)
        if built:
            await built.carrier.close()
        # A line flagged because its old gateway stopped answering is restored: the new one
        # is probed afresh.
        await self.recorder.gateway_health(line.id, True)
        log.info("line %s now sends through %s", phone_number, name)
        return LineCarrierView(
            phone_number=phone_number,
            carrier=name,
            settings=self._masked(name, sealed_settings or {}),
            inbound_url=self._shown_url(name, token),
        )

    def _shown_url(self, name: str, token: str | None) -> str | None:
        """The URL the operator gives the gateway: only a carrier with an inbound router
        has one (an SMPP line's token is never served: its traffic comes on the bind)."""
        kind = self.kinds.get(name)
        if token is None or kind is None or kind.inbound is None:
            return None
        return self.inbound_url(name, token)

    def _unchanged(
        self, current: LineCarrierRow | None, name: str, settings: dict[str, Any] | None
    ) -> bool:
        if current is None:
            return settings is None
        return current.carrier == name and self.box.open(current.sealed)["settings"] == settings

    async def describe(self, account_id: AccountId, phone_number: str) -> LineCarrierView:
        async with self.storage.read() as repos:
            line = await repos.lines.by_number(account_id, phone_number)
            if line is None:
                raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{phone_number} is not your line")
            row = await repos.line_carriers.of_line(line.id)
        if row is None:
            return LineCarrierView(phone_number, SIMULATOR, {}, changed=False)
        settings = self.box.open(row.sealed)["settings"]
        masked = self._masked(row.carrier, settings)
        return LineCarrierView(phone_number, row.carrier, masked, changed=False)

    async def views(self, account_id: AccountId) -> dict[str, LineCarrierView]:
        """The carrier of each of the account's lines that has one, by number (masked)."""
        async with self.storage.read() as repos:
            rows = await repos.line_carriers.all_of_account(account_id)
        return {
            row.phone_number: LineCarrierView(
                row.phone_number,
                row.carrier,
                self._masked(row.carrier, self.box.open(row.sealed)["settings"]),
                changed=False,
            )
            for row in rows
        }

    async def names(self) -> dict[LineId, str]:
        """The carrier of every line that has one, by line id (nothing unsealed: no key needed)."""
        async with self.storage.read() as repos:
            return {row.line_id: row.carrier for row in await repos.line_carriers.all()}

    def validated(self, name: str, settings: Mapping[str, Any]) -> dict[str, Any] | None:
        if name == SIMULATOR:
            if settings:
                raise LinqError(ErrorCode.INVALID_PARAMETER, "the simulator takes no settings")
            return None
        kind = self.kinds.get(name)
        if kind is None:
            known = ", ".join(sorted([SIMULATOR, *self.kinds]))
            raise LinqError(ErrorCode.INVALID_PARAMETER, f"unknown carrier {name!r} ({known})")
        try:
            settings_type = kind.settings_type()
        except ImportError:
            raise LinqError(
                ErrorCode.FEATURE_NOT_AVAILABLE, f"the {name} carrier is not installed"
            ) from None
        try:
            return settings_type.from_dict(settings).to_dict()
        except ValueError as error:
            raise LinqError(ErrorCode.INVALID_PARAMETER, f"{name}: {error}") from None

    def _masked(self, name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
        if not settings:
            return {}
        return masked(settings, self.kinds[name].settings_type().SECRET_FIELDS)

    def _forget(self, phone_number: str, account_id: AccountId) -> None:
        self._routes.pop(phone_number, None)
        self._accounts.pop(account_id, None)

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Build and start every configured line's carrier (where the jobs run)."""
        async with self.storage.read() as repos:
            rows = await repos.line_carriers.all()
        if rows:
            async with self.storage.write() as repos:
                await self._schedule_probe(repos)
        for row in rows:
            try:
                await (await self._instance(row)).start()
            except Exception:
                # One unreachable gateway must not keep the others (or the server) down:
                # its sends fail and retry on their own.
                log.exception("the %s carrier of %s did not start", row.carrier, row.phone_number)
        # From now on a carrier built on first use (a line configured later) starts at once.
        self._started = True

    # -- health ---------------------------------------------------------------------

    def register_jobs(self, runner: JobRunner) -> None:
        runner.register(PROBE_JOB, self.probe)

    async def _schedule_probe(self, repos: Repos) -> None:
        """Exactly one probe queued while any line has a real carrier."""
        await repos.locks.hold(PROBE_JOB)
        if not await repos.jobs.pending_of_kind(PROBE_JOB):
            await self.queue.schedule(repos, PROBE_JOB, {}, delay=PROBE_EVERY_SECONDS)

    async def probe(self, _: dict[str, Any]) -> None:
        """Probe the gateway of each line carrier this process runs (start() built every
        configured one), then come back while any line has a real carrier."""
        for built in list(self._built.values()):
            carrier = built.carrier
            try:
                if isinstance(carrier, LineCarrier):
                    await carrier.probe()
            except Exception:
                log.exception("probing the %s carrier failed", carrier.name)
        async with self.storage.read() as repos:
            rows = await repos.line_carriers.all()
        if rows:
            async with self.storage.write() as repos:
                await self.queue.schedule(repos, PROBE_JOB, {}, delay=PROBE_EVERY_SECONDS)

    async def close(self) -> None:
        built, self._built = self._built, {}
        for entry in built.values():
            await entry.carrier.close()


def _bounded(cache: dict[K, V]) -> dict[K, V]:
    if len(cache) >= MAX_CACHED:
        cache.clear()
    return cache


class RoutingCarrier(Carrier):
    """The Carrier the server uses: every call goes to the line's own carrier."""

    name = "routing"

    def __init__(self, registry: CarrierRegistry) -> None:
        self.registry = registry

    async def capabilities(self, account_id: AccountId, handle: str) -> frozenset[Service]:
        services: frozenset[Service] = frozenset()
        for carrier in await self.registry.for_account(account_id):
            services |= await carrier.capabilities(account_id, handle)
        return services

    async def stored_capabilities_from(
        self, repos: Repos, from_number: str, account_id: AccountId, handles: Sequence[str]
    ) -> dict[str, frozenset[Service]] | None:
        carrier = await self.registry.for_number(from_number)
        return await carrier.stored_capabilities(repos, account_id, handles)

    async def capabilities_from(
        self, from_number: str, account_id: AccountId, handle: str
    ) -> frozenset[Service]:
        carrier = await self.registry.for_number(from_number)
        return await carrier.capabilities(account_id, handle)

    async def send(self, message: OutboundMessage) -> None:
        await (await self.registry.for_number(message.from_number)).send(message)

    async def refusal(
        self, repos: Repos, from_number: str, kind: str, data: dict[str, Any]
    ) -> LinqError | None:
        return await self.registry.refusal(repos, from_number, kind, data)

    async def perform(self, action: ChatAction) -> None:
        await (await self.registry.for_number(action.from_number)).perform(action)
