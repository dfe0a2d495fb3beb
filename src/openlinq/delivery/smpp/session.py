"""One persistent SMPP bind: connect, rebind with backoff, honour throttling, read inbound.

smpp34 (Rust core) does the PDUs, sequence numbers and enquire_link (every 30 s: its
Python API sets no timer); this class owns the bind's lifetime, the window and the retry
rules around ``submit_sm``. smpp34 takes a ``window_size`` but does not enforce it (1.5.0:
every submit goes out at once), so the window is a semaphore here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import smpp34
from smpp34 import _smpp34 as smpp_constants  # the stub declares the ESME_ constants here

from openlinq.delivery.smpp.settings import SmppSettings

log = logging.getLogger(__name__)

# The SMSC asks us to slow down: wait and submit again, on the same bind.
RETRY_LATER = frozenset({smpp_constants.ESME_RTHROTTLED, smpp_constants.ESME_RMSGQFUL})

# smpp34's stop/unbind futures have been seen never to resolve (1 run in ~20 here): a
# close must not hang the process's shutdown, so each gets this long.
STOP_SECONDS = 5.0

OnDeliver = Callable[[smpp34.DeliverSmEvent], Awaitable[None]]


class SmppUnavailableError(Exception):
    """No bind (SMSC unreachable, bind refused or lost mid-send): retry later."""


class SmppRefusedError(Exception):
    """The SMSC answered submit_sm with a permanent error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"submit_sm refused with command_status 0x{status:08X}")
        self.status = status


class SmppSession:
    def __init__(self, settings: SmppSettings, on_deliver: OnDeliver) -> None:
        self.settings = settings
        self._on_deliver = on_deliver
        self._smsc: smpp34.Smsc | None = None
        self._client: smpp34.Client | None = None
        self._bound = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # submit_sm PDUs awaiting their response on this bind, at most window_size.
        self._window = asyncio.Semaphore(settings.window_size)
        self.last_error: str | None = None

    @property
    def bound(self) -> bool:
        return self._bound.is_set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"smpp:{self.settings.host}")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STOP_SECONDS)
            self._task = None
        await self._drop()

    async def wait_bound(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._bound.wait(), seconds)
        return self.bound

    async def _run(self) -> None:
        delay = self.settings.reconnect_initial
        while not self._closed:
            try:
                smsc = await self._bind()
            except Exception as error:  # smpp34 raises OSError/SmppError/timeouts alike
                self.last_error = f"bind to {self.settings.host}:{self.settings.port}: {error}"
                log.warning("smpp %s; rebinding in %.1f s", self.last_error, delay)
            else:
                delay = self.settings.reconnect_initial
                await self._read(smsc)
                log.warning("smpp bind to %s:%s lost", self.settings.host, self.settings.port)
            await self._drop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.reconnect_max)

    async def _bind(self) -> smpp34.Smsc:
        s = self.settings
        self._client = smpp34.Client(
            s.host,
            s.port,
            s.system_id,
            s.password,
            bind_type=s.bind_type,
            system_type=s.system_type,
            tls=s.tls,
            addr_ton=s.source_ton,
            addr_npi=s.source_npi,
            window_size=s.window_size,
            connect_timeout_ms=int(s.connect_timeout * 1000),
        )
        smsc = await asyncio.wait_for(self._client.connect(), s.connect_timeout)
        self._smsc = smsc
        self.last_error = None
        self._bound.set()
        log.info("smpp bound to %s:%s as %s", s.host, s.port, s.system_id)
        return smsc

    async def _read(self, smsc: smpp34.Smsc) -> None:
        while True:
            event = await smsc.next()
            if isinstance(event, smpp34.Disconnected):
                return
            try:
                await self._on_deliver(event)
            except Exception:
                # smpp34 has already acknowledged the PDU; log it whole so it can be replayed.
                log.exception("smpp deliver_sm from %s not recorded", event.source_addr)

    async def _drop(self) -> None:
        self._bound.clear()
        self._smsc = None
        client, self._client = self._client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.stop(), STOP_SECONDS)
            except TimeoutError:
                log.warning("smpp client did not stop within %.0f s; left behind", STOP_SECONDS)
            except Exception as error:  # already disconnected, mostly
                log.debug("smpp client stop: %s", error)

    async def submit(self, **pdu: Any) -> str:
        """Submit one short message; the SMSC's message id. Throttling is waited out
        on the bind up to ``throttle_retries`` times, then the caller retries later."""
        delay = self.settings.throttle_delay
        for _ in range(self.settings.throttle_retries + 1):
            if not await self.wait_bound(self.settings.connect_timeout):
                raise SmppUnavailableError(self.last_error or "no SMPP bind")
            smsc = self._smsc
            assert smsc is not None, "bound means a session"
            try:
                async with self._window:
                    response = await smsc.submit_sm(**pdu)
            except Exception as error:
                # The reader sees the bind end (Disconnected) and rebinds.
                raise SmppUnavailableError(f"submit_sm not answered: {error}") from error
            if response.is_success:
                return response.message_id or ""
            if response.command_status not in RETRY_LATER:
                raise SmppRefusedError(response.command_status)
            log.info("smpp throttled (0x%08X); waiting %.1f s", response.command_status, delay)
            await asyncio.sleep(delay)
            delay *= 2
        raise SmppUnavailableError("the SMSC keeps throttling")
