"""An SMSC on loopback for the SMPP carrier's tests: smpp34's server (a packaged SMPP
implementation, not ours) with the behaviours a real SMSC shows: accepts or refuses
submits, throttles, sends delivery receipts and MO messages, drops the bind."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import smpp34
from smpp34 import _smpp34 as smpp_constants  # the stub declares the TLV_/ESME_ constants here

from openlinq.delivery.smpp.session import STOP_SECONDS
from openlinq.domain.models import Service
from tests.support.carrier_peers import CarrierPeer


@dataclass(frozen=True)
class Submitted:
    smsc_id: str
    source_addr: str
    destination_addr: str
    data_coding: int
    esm_class: int
    short_message: bytes
    registered_delivery: int
    session_id: str = ""  # the bind it came on


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmscPeer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.submitted: list[Submitted] = []
        self.refuse: dict[str, int] = {}  # destination_addr -> command_status
        self.throttle = 0  # answer this many next submits with ESME_RTHROTTLED
        self.drop_after: int | None = None  # unbind once this many submits were accepted
        self.holding = False  # leave submits unanswered (in ``held``) until ``release()``
        self.held: list[smpp34.SubmitSmEvent] = []
        self._ids = itertools.count(0x1000)
        self._sessions: dict[str, smpp34.Esme] = {}
        self._bound = asyncio.Event()
        self._binds_changed = asyncio.Event()
        self.binds = 0
        self._server: smpp34.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._server = smpp34.Server("127.0.0.1", self.port, system_id="peer-smsc")
        await self._server.start()
        self._task = asyncio.create_task(self._serve(self._server))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STOP_SECONDS)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.stop(), STOP_SECONDS)
        self._sessions.clear()
        self._bound.clear()

    async def _serve(self, server: smpp34.Server) -> None:
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                self._sessions[event.session_id] = event
                self.binds += 1
                self._bound.set()
                self._binds_changed.set()
            elif isinstance(event, smpp34.Unbound):
                self._sessions.pop(event.session_id, None)
                if not self._sessions:
                    self._bound.clear()
            else:
                await self._submit(event)

    async def _submit(self, event: smpp34.SubmitSmEvent) -> None:
        if event.session_id not in self._sessions:
            # Read after its bind ended: an SMSC does not take PDUs from a closed bind.
            event.reject(smpp_constants.ESME_RSYSERR)
            return
        if self.throttle > 0:
            self.throttle -= 1
            event.reject(smpp_constants.ESME_RTHROTTLED)
            return
        if event.destination_addr in self.refuse:
            event.reject(self.refuse[event.destination_addr])
            return
        if self.holding:
            self.held.append(event)
            return
        await self._accept(event)

    async def release(self) -> None:
        """Answer the held submits, and every later one at once."""
        self.holding = False
        held, self.held = self.held, []
        for event in held:
            await self._accept(event)

    async def _accept(self, event: smpp34.SubmitSmEvent) -> None:
        smsc_id = f"{next(self._ids):X}"
        event.accept(smsc_id)
        self.submitted.append(
            Submitted(
                smsc_id,
                event.source_addr,
                event.destination_addr,
                event.data_coding,
                event.esm_class,
                event.short_message,
                event.registered_delivery,
                event.session_id,
            )
        )
        if self.drop_after is not None and len(self.submitted) >= self.drop_after:
            self.drop_after = None
            await asyncio.sleep(0.05)  # let the response leave first
            await self.drop()

    async def wait_bound(self, seconds: float = 10) -> None:
        await asyncio.wait_for(self._bound.wait(), seconds)

    async def drop(self) -> None:
        """End every bind (an SMSC restart, a network cut)."""
        for esme in list(self._sessions.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(esme.unbind(), STOP_SECONDS)
        self._sessions.clear()
        self._bound.clear()

    def _esme(self, avoid: str | None = None) -> smpp34.Esme:
        """The newest bind (an ESME that went away without unbinding may linger)."""
        return next(e for e in reversed(self._sessions.values()) if e.session_id != avoid)

    async def wait_binds(self, count: int, seconds: float = 10) -> None:
        """Until ``count`` binds were made since the peer started."""
        async with asyncio.timeout(seconds):
            while self.binds < count:
                self._binds_changed.clear()
                await self._binds_changed.wait()

    async def receipt(
        self,
        submitted: Submitted,
        stat: str = "DELIVRD",
        state: int = 2,
        *,
        in_text_only: bool = False,
        decimal_id: bool = False,
        other_bind: bool = False,
    ) -> None:
        """A delivery receipt; ``in_text_only``: no TLVs, id and stat only in the text (as
        many SMSCs send), ``decimal_id``: the id written in decimal (the submit answer was hex),
        ``other_bind``: on a bind of the line other than the one the submit came on."""
        receipted = str(int(submitted.smsc_id, 16)) if decimal_id else submitted.smsc_id
        tlvs = [
            smpp34.Tlv(smpp_constants.TLV_RECEIPTED_MESSAGE_ID, receipted.encode() + b"\0"),
            smpp34.Tlv(smpp_constants.TLV_MESSAGE_STATE, bytes([state])),
        ]
        text = (
            f"id:{receipted} sub:001 dlvrd:001 submit date:2612020400"
            f" done date:2612020400 stat:{stat} err:000 text:"
        )
        esme = self._esme(avoid=submitted.session_id if other_bind else None)
        response = await esme.deliver_sm(
            submitted.source_addr,
            text.encode(),
            source_addr=submitted.destination_addr,
            source_addr_ton=1,
            esm_class=0x04,
            tlvs=[] if in_text_only else tlvs,
        )
        assert response.is_success

    async def mobile_originated(
        self, source: str, line: str, payload: bytes, *, data_coding: int = 0, esm_class: int = 0
    ) -> None:
        response = await self._esme().deliver_sm(
            line.lstrip("+"),
            payload,
            source_addr=source.lstrip("+"),
            source_addr_ton=1,
            source_addr_npi=1,
            data_coding=data_coding,
            esm_class=esm_class,
        )
        assert response.is_success


# The number the peer refuses with ESME_RINVDSTADR: the contract's unreachable recipient.
UNREACHABLE = "+14155550103"


def peer_settings(peer: SmscPeer) -> dict[str, Any]:
    """An SMPP line's settings pointing at ``peer``, with test-sized timers."""
    return {
        "host": "127.0.0.1",
        "port": peer.port,
        "system_id": "openlinq",
        "password": "secret",
        "reconnect_initial": 0.05,
        "reconnect_max": 0.2,
        "throttle_delay": 0.02,
        "connect_timeout": 5.0,
    }


@contextlib.asynccontextmanager
async def smpp_peer(services: object = None) -> AsyncIterator[CarrierPeer]:
    """A running SMSC peer for the carrier contract (tests/support/carrier_peers.py); SMS
    carries no chat action, so every kind is refused."""
    peer = SmscPeer()
    peer.refuse[UNREACHABLE.lstrip("+")] = smpp_constants.ESME_RINVDSTADR
    await peer.start()
    try:
        yield CarrierPeer(
            "smpp",
            peer_settings(peer),
            peer,
            unreachable=UNREACHABLE,
            service=Service.SMS,
            # Marking a chat read is openlinq's own state: accepted, nothing sent.
            actions=frozenset({"chat_read"}),
        )
    finally:
        await peer.stop()
