"""Capability checks: can a handle be reached on iMessage, or on RCS?"""

from __future__ import annotations

from dataclasses import dataclass

from openlinq.delivery.carrier import Carrier
from openlinq.domain.chats import check_account_line
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.handles import parse_handle, parse_phone
from openlinq.domain.lines import pick_line
from openlinq.domain.models import Account, Line, Service
from openlinq.domain.routing import reach, select_service
from openlinq.store.unit import Storage


@dataclass(frozen=True, slots=True)
class CapabilityAnswer:
    address: str
    available: bool
    reason: str | None
    selected_service: Service | None


class CapabilityService:
    def __init__(self, storage: Storage, carrier: Carrier) -> None:
        self.storage = storage
        self.carrier = carrier

    async def _from_line(self, account: Account, from_number: str | None) -> Line | None:
        """The ``from`` line, checked before the carrier is asked anything (None without one)."""
        if from_number is None:
            return None
        number = parse_phone(from_number, "from")
        async with self.storage.read() as repos:
            return check_account_line(await repos.lines.by_number(account.id, number), number)

    async def _best_line(
        self, account: Account, capabilities: frozenset[Service], preferred: Service | None
    ) -> Line:
        """With no ``from``: the line a send with ``preferred`` would open a chat on, among
        the lines offering the checked service (RCS for check_rcs) when there are some."""
        async with self.storage.read() as repos:
            lines = await repos.lines.of_account(account.id)
        offering = [line for line in lines if preferred is None or preferred in line.services]
        return pick_line(
            offering or lines,
            set(),
            reach=lambda line: reach(preferred, [capabilities], line.services),
        )

    async def _capabilities(
        self, account: Account, handle: str, line: Line | None
    ) -> frozenset[Service]:
        """From the given line: what its carrier reaches; else what the account's carriers do."""
        if line is None:
            return await self.carrier.capabilities(account.id, handle)
        return await self.carrier.capabilities_from(line.phone_number, account.id, handle)

    async def check_imessage(
        self, account: Account, address: str, from_number: str | None
    ) -> CapabilityAnswer:
        handle = parse_handle(address, "address")
        line = await self._from_line(account, from_number)
        capabilities = await self._capabilities(account, handle.value, line)
        line = line or await self._best_line(account, capabilities, None)
        selection = select_service(None, [capabilities], line.services)
        return CapabilityAnswer(
            address=handle.value,
            available=Service.IMESSAGE in capabilities and Service.IMESSAGE in line.services,
            reason=None,
            selected_service=selection.service if selection.deliverable else None,
        )

    async def check_rcs(
        self, account: Account, address: str, from_number: str | None
    ) -> CapabilityAnswer:
        handle = parse_handle(address, "address", allow_email=False)
        line = await self._from_line(account, from_number)
        if line is not None:
            _require_rcs(line)
        capabilities = await self._capabilities(account, handle.value, line)
        line = line or _require_rcs(await self._best_line(account, capabilities, Service.RCS))
        available = Service.RCS in capabilities
        selection = select_service(Service.RCS, [capabilities], line.services)
        return CapabilityAnswer(
            address=handle.value,
            available=available,
            reason=None if available else "not_supported",
            selected_service=selection.service if selection.deliverable else None,
        )


def _require_rcs(line: Line) -> Line:
    """An RCS check from a line without RCS is the sender's fault, never an answer."""
    if Service.RCS not in line.services:
        raise LinqError(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"RCS is not turned on for {line.phone_number}",
            retryable=False,
        )
    return line
