"""A minimal real carrier for testing the per-line seam (not a gateway: it relays nothing).

It follows the conventions every line carrier follows (delivery/routing.py): a settings
dataclass with ``SECRET_FIELDS`` / ``from_dict`` / ``to_dict``, the registry's constructor
keywords, ``start`` / ``close``, and an inbound router mounted under the line's token.
What it is asked to do is kept in ``RelayCarrier.log`` so tests can see where traffic went;
a send is reported ``sent`` through the recorder like any carrier's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self

from fastapi import APIRouter, Request

from openlinq.delivery.carrier import ChatAction, OutboundMessage
from openlinq.delivery.routing import CarrierKind, LineCarrier
from openlinq.domain.clock import Clock
from openlinq.domain.delivery import DeliveryRecorder
from openlinq.domain.ids import AccountId, LineId
from openlinq.domain.models import Service
from openlinq.jobs.runner import JobQueue
from openlinq.outbound import OutboundPolicy
from openlinq.store.unit import Storage

KIND = CarrierKind(
    "relay",
    settings="tests.support.relay_carrier:RelaySettings",
    carrier="tests.support.relay_carrier:RelayCarrier",
    inbound="tests.support.relay_carrier:router",
)


@dataclass(frozen=True, slots=True)
class RelaySettings:
    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset({"password"})

    url: str
    password: str = field(repr=False)
    services: tuple[str, ...] = ("SMS",)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        unknown = set(data) - {"url", "password", "services"}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        if not data.get("url") or not data.get("password"):
            raise ValueError("url and password are required")
        services = data.get("services", ("SMS",))
        if isinstance(services, str):
            services = tuple(services.split(","))
        return cls(str(data["url"]), str(data["password"]), tuple(services))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"services": list(self.services)}


class RelayCarrier(LineCarrier):
    name = "relay"
    # Every call any relay carrier got, in order: (phone_number, what, detail).
    log: ClassVar[list[tuple[str, str, Any]]] = []

    def __init__(
        self,
        settings: RelaySettings,
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
        **_unused: Any,  # attachments: a relay carries text only
    ) -> None:
        self.settings = settings
        self.account_id = account_id
        self.phone_number = phone_number
        self.inbound_url = inbound_url
        self.recorder = recorder

    def _note(self, what: str, detail: Any = None) -> None:
        self.log.append((self.phone_number, what, detail))

    async def start(self) -> None:
        self._note("start")

    async def close(self) -> None:
        self._note("close")

    async def capabilities(self, account_id: AccountId, handle: str) -> frozenset[Service]:
        return frozenset(Service(s) for s in self.settings.services)

    async def send(self, message: OutboundMessage) -> None:
        self._note("send", message.message_id)
        await self.recorder.sent(message.message_id)

    async def perform(self, action: ChatAction) -> None:
        self._note("perform", action.kind)

    async def receive(self, sender: str, text: str) -> None:
        await self.recorder.inbound_message(
            self.account_id,
            self.phone_number,
            sender,
            [{"type": "text", "value": text}],
            Service.SMS,
        )


router = APIRouter()


@router.post("/inbound")
async def inbound(line_token: str, request: Request) -> dict[str, bool]:
    carrier = await request.app.state.services.carriers.inbound("relay", line_token)
    assert isinstance(carrier, RelayCarrier)
    body = await request.json()
    await carrier.receive(body["from"], body["text"])
    return {"ok": True}
