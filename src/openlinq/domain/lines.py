"""Lines (the account's phone numbers): listing, forwarding, and picking one to send from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.handles import parse_phone, parse_recipients, recipient_key
from openlinq.domain.ids import LineId
from openlinq.domain.links import VCARD_TTL, Links
from openlinq.domain.models import Account, Line, LineStatus, LineType, Reputation
from openlinq.domain.reputation import evaluate
from openlinq.domain.views import Origin, account_event_data
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

_REPUTATION_RANK = {Reputation.HEALTHY: 0, Reputation.AT_RISK: 1, Reputation.CRITICAL: 2}
_NEVER = datetime.min.replace(tzinfo=UTC)
# The codes a failed group name or icon update carries (contract §7.3).
GROUP_UPDATE_ERRORS = (3007, 4001)

# How well a line reaches the recipients of a send (lower is better): routing.reach.
LineReach = Callable[[Line], tuple[int, ...]]


def _anywhere(_: Line) -> tuple[int, ...]:
    return ()


def rank_lines(lines: Sequence[Line], reach: LineReach = _anywhere) -> list[Line]:
    """The order lines are picked in: the one that reaches the recipients on the best
    service first (when they are known), then healthiest reputation, then least recently
    used (never-used first)."""
    return sorted(
        lines,
        key=lambda line: (
            reach(line),
            _REPUTATION_RANK[line.reputation],
            line.last_used_at or _NEVER,
            line.created_at,
            line.phone_number,
        ),
    )


def parse_exclusions(exclude_from: Sequence[str]) -> set[str]:
    return {parse_phone(n, "exclude_from") for n in exclude_from}


def pick_line(
    lines: Sequence[Line],
    excluded: set[str],
    line_type: LineType | None = None,
    reach: LineReach = _anywhere,
) -> Line:
    """The best line that may send now; 400 when exclusions leave none, 409 when none can send."""
    usable = [
        line
        for line in lines
        if line.can_send and (line_type is None or line.line_type is line_type)
    ]
    if not usable:
        raise LinqError(ErrorCode.STATE_CONFLICT, "no eligible sending line is available")
    remaining = [line for line in usable if line.phone_number not in excluded]
    if not remaining:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "exclude_from excludes every available line")
    return rank_lines(remaining, reach)[0]


async def record_line_change(
    events: EventLog,
    repos: Repos,
    line: Line,
    status: LineStatus,
    reputation: Reputation,
    now: datetime,
) -> None:
    """Store a line's new status and reputation; phone_number.status_updated when either moved."""
    if status is line.status and reputation is line.reputation:
        return
    if status is not line.status:
        await repos.lines.set_status(line.id, status)
    if reputation is not line.reputation:
        await repos.lines.set_reputation(line.id, reputation)
    await events.record(
        repos,
        line.account_id,
        "phone_number.status_updated",
        {
            "phone_number": line.phone_number,
            "changed_at": now,
            "previous_status": line.status.value,
            "new_status": status.value,
            "previous_reputation": line.reputation.value,
            "new_reputation": reputation.value,
        },
        phone_number=line.phone_number,
        now=now,
    )


# server_settings key marking a line flagged because its gateway stopped answering (so the
# gateway's recovery restores it, and never a line the operator flagged).
GATEWAY_DOWN = "gateway_down:"


async def record_gateway_health(
    events: EventLog, repos: Repos, line_id: LineId, reachable: bool, now: datetime
) -> bool:
    """A real gateway (a Mac, an SMSC) stopped or started answering for the line: an active
    line becomes FLAGGED (no new sends are placed on it; queued ones keep retrying), and
    ACTIVE again when it answers, with phone_number.status_updated both times."""
    line = await repos.lines.get_by_id(line_id)
    if line is None:
        return False
    key = GATEWAY_DOWN + line_id
    if not reachable and line.status is LineStatus.ACTIVE:
        await repos.settings.put(key, now.isoformat())
        status = LineStatus.FLAGGED
    elif reachable and await repos.settings.get(key):
        await repos.settings.put(key, "")
        if line.status is not LineStatus.FLAGGED:
            return False  # restored by the operator meanwhile
        status = LineStatus.ACTIVE
    else:
        return False
    report = await evaluate(repos, replace(line, status=status), now)
    await record_line_change(events, repos, line, status, report.severity, now)
    return True


class LineService:
    def __init__(self, storage: Storage, clock: Clock, events: EventLog, links: Links) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        self.links = links

    async def of_account(self, account: Account) -> list[Line]:
        """The account's lines (not the released ones)."""
        async with self.storage.read() as repos:
            lines = await repos.lines.of_account(account.id)
        return [line for line in lines if line.released_at is None]

    async def set_status(self, account: Account, phone_number: str, status: LineStatus) -> Line:
        """Flag or restore a line (an operator action); its reputation is rescored with it
        (a flagged line is CRITICAL) and phone_number.status_updated is emitted."""
        number = parse_phone(phone_number, "phone_number")
        now = self.clock.now()
        async with self.storage.write() as repos:
            line = await repos.lines.by_number(account.id, number)
            if line is None:
                raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{number} is not your line")
            if line.status is not status:
                report = await evaluate(repos, replace(line, status=status), now)
                await record_line_change(self.events, repos, line, status, report.severity, now)
            updated = await repos.lines.get(account.id, line.id)
        assert updated is not None
        return updated

    async def set_retention(self, account: Account, phone_number: str, hours: float | None) -> Line:
        """Put one line on the ephemeral tier (``hours``) or take it off (None)."""
        number = parse_phone(phone_number, "phone_number")
        async with self.storage.write() as repos:
            line = await repos.lines.by_number(account.id, number)
            if line is None:
                raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{number} is not your line")
            await repos.lines.set_retention(line.id, hours)
            updated = await repos.lines.get(account.id, line.id)
        assert updated is not None
        return updated

    async def set_forwarding(
        self,
        account: Account,
        line_id: str,
        forwarding_number: str | None,
        origin: Origin = "api",
    ) -> Line:
        """Set or clear where calls to the line go; emits phone_number.forwarding_updated
        when that changes."""
        number = parse_phone(forwarding_number, "forwarding_number") if forwarding_number else None
        async with self.storage.write() as repos:
            line = await repos.lines.get(account.id, LineId(line_id))
            if line is None or line.released_at is not None:
                raise LinqError(
                    ErrorCode.ACCESS_DENIED, f"phone number {line_id} not found", http_status=404
                )
            await repos.lines.set_forwarding(line.id, number)
            if number != line.forwarding_number:
                await self._account_event(
                    repos,
                    line,
                    "phone_number.forwarding_updated",
                    "Call forwarding updated",
                    origin,
                    {"from": line.forwarding_number, "to": number},
                )
            refreshed = await repos.lines.get(account.id, line.id)
        assert refreshed is not None
        return refreshed

    async def set_zero_retention(
        self, account: Account, phone_number: str, enabled: bool, origin: Origin
    ) -> Line:
        """Put a line on zero data retention or take it off (zero_day_retention.updated):
        its message events then carry no content (``parts`` empty, ``zero_retention``)."""
        async with self.storage.write() as repos:
            line = await self._by_number(repos, account, phone_number)
            await repos.lines.set_zero_retention(line.id, enabled)
            if enabled != line.zero_retention:
                summary = f"Zero data retention {'enabled' if enabled else 'disabled'}"
                change = {"from": line.zero_retention, "to": enabled}
                await self._account_event(
                    repos, line, "zero_day_retention.updated", summary, origin, change
                )
        return replace(line, zero_retention=enabled)

    async def set_group_update_error(
        self, account: Account, phone_number: str, code: int | None
    ) -> Line:
        """The simulator: make group name and icon updates on this line's chats fail
        with ``code`` (3007 or 4001), or succeed again (None)."""
        if code is not None and code not in GROUP_UPDATE_ERRORS:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER,
                f"group_update_error must be one of {', '.join(map(str, GROUP_UPDATE_ERRORS))}",
            )
        async with self.storage.write() as repos:
            line = await self._by_number(repos, account, phone_number)
            await repos.lines.set_group_update_error(line.id, code)
        return replace(line, sim_group_update_error=code)

    async def line(self, account: Account, phone_number: str) -> Line:
        async with self.storage.read() as repos:
            return await self._by_number(repos, account, phone_number)

    async def _by_number(self, repos: Repos, account: Account, phone_number: str) -> Line:
        number = parse_phone(phone_number, "phone_number")
        line = await repos.lines.by_number(account.id, number)
        if line is None:
            raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{number} is not your line")
        return line

    async def _account_event(
        self,
        repos: Repos,
        line: Line,
        event_type: str,
        summary: str,
        origin: Origin,
        change: dict[str, Any],
    ) -> None:
        now = self.clock.now()
        data = account_event_data(
            summary, now, origin, phone_number=line.phone_number, change=change
        )
        await self.events.record(
            repos, line.account_id, event_type, data, phone_number=line.phone_number, now=now
        )

    async def available_number(
        self,
        account: Account,
        *,
        to: Sequence[str],
        exclude_from: Sequence[str],
        line_type: LineType | None,
    ) -> tuple[Line, list[Line]]:
        """Suggest a line (sticky to an existing chat with ``to``), and count it as used."""
        excluded = parse_exclusions(exclude_from)
        recipients = [h.value for h in parse_recipients(list(to))] if to else []
        now = self.clock.now()
        async with self.storage.write() as repos:
            lines = await repos.lines.of_account(account.id)
            by_id = {line.id: line for line in lines}
            chosen: Line | None = None
            if recipients:
                for chat, can_send in await repos.chats.reusable(
                    account.id, recipient_key(recipients)
                ):
                    line = by_id[chat.line_id]
                    if (
                        can_send
                        and line.phone_number not in excluded
                        and (line_type is None or line.line_type is line_type)
                    ):
                        chosen = line
                        break
            if chosen is None:
                if line_type is not None and not any(
                    line.line_type is line_type and line.can_send for line in lines
                ):
                    raise LinqError(
                        ErrorCode.SERVICE_UNAVAILABLE, f"no {line_type.value} line is available"
                    )
                chosen = pick_line(lines, excluded, line_type)
            await repos.lines.touch(chosen.id, now)
        backups = [
            line
            for line in rank_lines(lines)
            if line.id != chosen.id and line.can_send and line.phone_number not in excluded
        ]
        return chosen, backups

    def vcard_link(self, line: Line, backups: Sequence[Line]) -> str:
        extra = {"backups": ",".join(b.id for b in backups)} if backups else {}
        return self.links.sign(f"/vcards/{line.id}.vcf", VCARD_TTL, extra)[0]

    async def vcard(self, line_id: str, expires: int, signature: str, backups: str | None) -> str:
        """The vCard behind a signed link: the chosen number first, then its backups."""
        extra = {"backups": backups} if backups else {}
        self.links.verify(f"/vcards/{line_id}.vcf", expires, signature, extra)
        async with self.storage.read() as repos:
            line = await repos.lines.get_by_id(LineId(line_id))
            if line is None:
                raise LinqError(
                    ErrorCode.ACCESS_DENIED, "this vCard link is invalid", http_status=404
                )
            found = [
                await repos.lines.get(line.account_id, LineId(i))
                for i in (backups or "").split(",")
                if i
            ]
        numbers = [line.phone_number, *(b.phone_number for b in found if b is not None)]
        tel = "\r\n".join(
            f"TEL;TYPE=CELL{';TYPE=PREF' if i == 0 else ''}:{n}" for i, n in enumerate(numbers)
        )
        return f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{line.phone_number}\r\n{tel}\r\nEND:VCARD\r\n"
