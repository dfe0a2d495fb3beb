"""The carriers the shared carrier contract runs against, each with its test peer.

A carrier engineer adds one entry: ``CARRIER_PEERS["name"] = name_peer``, an async
context manager that starts the carrier's test peer (a BlueBubbles-compatible server,
an SMSC ...) for the test and yields a ``CarrierPeer``: the settings a line needs to send
through that peer, and what the contract may expect of it. The contract test makes a
line, configures it with ``(name, settings)`` (delivery/routing.py) and drives
``services.carrier``, so every carrier is reached through the per-line seam.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from openlinq.delivery.carrier import ACTION_KINDS
from openlinq.domain.models import Service
from openlinq.wiring import Services
from tests.support.tenant import magic


@dataclass(frozen=True)
class CarrierPeer:
    name: str
    # A line's settings for this carrier pointing at the peer (None: the simulator).
    settings: dict[str, Any] | None
    # The running peer, for tests that drive it (inject failures, send inbound traffic).
    peer: object
    # A handle the peer refuses: a send to it is rejected with 4002.
    unreachable: str
    # The service its chats use.
    service: Service = Service.IMESSAGE
    # The action kinds it carries out; any other kind is refused with CarrierRejectedError.
    actions: frozenset[str] = field(default=ACTION_KINDS)


PeerFactory = Callable[[Services], AbstractAsyncContextManager[CarrierPeer]]


@asynccontextmanager
async def simulator_peer(services: Services) -> AsyncIterator[CarrierPeer]:
    yield CarrierPeer("simulator", None, services.simulator, unreachable=magic("03"))


CARRIER_PEERS: dict[str, PeerFactory] = {"simulator": simulator_peer}


@asynccontextmanager
async def bluebubbles_peer(services: Services) -> AsyncIterator[CarrierPeer]:
    """A BlueBubbles-compatible server with the Private API on; one handle is not on iMessage."""
    from tests.support.bluebubbles_peer import CONTRACT_ACTIONS, BlueBubblesPeer

    peer = BlueBubblesPeer()
    unreachable = magic("03")
    peer.state.unreachable.add(unreachable)
    peer.start()
    try:
        yield CarrierPeer(
            "bluebubbles",
            peer.settings(),
            peer,
            unreachable=unreachable,
            actions=CONTRACT_ACTIONS,
        )
    finally:
        peer.stop()


CARRIER_PEERS["bluebubbles"] = bluebubbles_peer


@asynccontextmanager
async def smpp_peer(services: Services) -> AsyncIterator[CarrierPeer]:
    """A real SMSC (smpp34's server) on loopback; it refuses one destination."""
    from tests.support.smsc_peer import smpp_peer as running

    async with running(services) as peer:
        yield peer


CARRIER_PEERS["smpp"] = smpp_peer
