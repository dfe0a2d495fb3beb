"""The test harness: what a test suite needs beyond driving single phones.

Test accounts made on demand (each with its own key and lines, so tests isolate
by account), ``settle`` (play out everything pending, in clock order) and
``next_outbound`` (wait for the next message the agent sends to a handle). The
pytest plugin (``openlinq.testing``) and any other language's tests use these
through /sim/v1 over HTTP.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from openlinq.delivery.routing import PROBE_JOB
from openlinq.domain.accounts import AccountService
from openlinq.domain.clock import Clock, ManualClock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.handles import parse_handle
from openlinq.domain.models import Account, AccountTier, Direction, Line, LineType, Message
from openlinq.domain.reputation_audits import REFRESH_JOB
from openlinq.domain.retention import PURGE_JOB
from openlinq.jobs.runner import JobRunner
from openlinq.store.unit import Storage

# Always queued, never "pending work" a test waits for: the retention sweep reschedules itself.
PERIODIC_JOBS = (PURGE_JOB, REFRESH_JOB, PROBE_JOB)
# One settle never runs more rounds than this (a job that keeps rescheduling itself).
MAX_SETTLE_ROUNDS = 10_000
# How long settle waits (real time) for jobs already running here, a webhook's POST say.
RUNNING_WAIT_SECONDS = 30.0
# How often a waiting next_outbound looks again (real time).
POLL_SECONDS = 0.05
# Test lines are drawn from +1 628 XXX XXXX (outside the simulator's magic 555-01XX numbers).
_LINE_PREFIX = "+1628"


@dataclass(frozen=True, slots=True)
class HarnessAccount:
    account: Account
    api_key: str
    lines: list[Line]


@dataclass(frozen=True, slots=True)
class Settled:
    jobs_run: int
    advanced_seconds: float
    pending: int  # jobs still queued beyond the horizon (periodic ones not counted)


class Harness:
    def __init__(
        self, storage: Storage, clock: Clock, accounts: AccountService, runner: JobRunner
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.accounts = accounts
        self.runner = runner

    async def create_test_account(self, name: str, line_types: list[LineType]) -> HarnessAccount:
        account, key = await self.accounts.create_account(name, AccountTier.STANDARD)
        lines = [await self._add_fresh_line(account, line_type) for line_type in line_types]
        return HarnessAccount(account, key, lines)

    async def _add_fresh_line(self, account: Account, line_type: LineType) -> Line:
        for _ in range(20):
            number = f"{_LINE_PREFIX}{secrets.randbelow(10_000_000):07d}"
            try:
                return await self.accounts.add_line(account.id, number, line_type)
            except ValueError:
                continue  # taken by another account: draw again
        raise RuntimeError("no free test line number after 20 draws")

    async def settle(self, max_seconds: float) -> Settled:
        """Run every due job; on a manual clock, move it to each next job (in order) and
        run that too, until nothing is queued within ``max_seconds`` of now."""
        ran, advanced = 0, 0.0
        for _ in range(MAX_SETTLE_ROUNDS):
            ran += await self.runner.run_due()
            if self.runner.running:
                # The background loop took a due job just before run_due looked (a webhook
                # POST under way): it is part of what settles, and so is what it schedules.
                if not await self.runner.until_quiet(RUNNING_WAIT_SECONDS):
                    break
                continue
            if not isinstance(self.clock, ManualClock):
                break  # a real clock's future jobs run on their own
            next_at = await self._next_run_at()
            if next_at is None:
                break
            wait = max(0.0, (next_at - self.clock.now()).total_seconds())
            if advanced + wait > max_seconds:
                break
            self.clock.advance(wait)
            advanced += wait
        # Jobs the background loop finished are deleted with its next claim: not pending.
        await self.runner.complete_finished()
        async with self.storage.read() as repos:
            pending = await repos.jobs.pending_count(exclude_kinds=PERIODIC_JOBS)
        return Settled(ran, advanced, pending)

    async def _next_run_at(self) -> datetime | None:
        async with self.storage.read() as repos:
            return await repos.jobs.next_run_at(exclude_kinds=PERIODIC_JOBS)

    async def next_outbound(
        self,
        account: Account,
        raw_handle: str,
        *,
        after: str | None,
        matching: re.Pattern[str] | None,
        wait_seconds: float,
    ) -> Message | None:
        """The first message the account sent to ``raw_handle`` after message ``after``
        (any, if None) whose text matches; waits up to ``wait_seconds`` (real time) for it."""
        handle = parse_handle(raw_handle).value
        deadline = time.monotonic() + wait_seconds
        while True:
            found = await self._first_outbound(account, handle, after, matching)
            if found is not None or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(POLL_SECONDS)

    async def _first_outbound(
        self, account: Account, handle: str, after: str | None, matching: re.Pattern[str] | None
    ) -> Message | None:
        async with self.storage.read() as repos:
            chat_ids = await repos.chats.ids_with_participant(account.id, handle)
            messages = await repos.messages.to_handle(account.id, chat_ids)
        after_seq = 0
        if after is not None:
            found = next((m.seq for m in messages if m.id == after), None)
            if found is None:  # a mistyped cursor must not quietly start from the beginning
                raise LinqError(ErrorCode.MESSAGE_NOT_FOUND, f"no message {after} with {handle}")
            after_seq = found
        for message in messages:
            if message.direction is not Direction.OUTBOUND or message.seq <= after_seq:
                continue
            if matching is None or matching.search(message_text(message)):
                return message
        return None


def message_text(message: Message) -> str:
    """A message's text parts, joined by newlines (what a pattern is matched against)."""
    return "\n".join(str(p.get("value", "")) for p in message.parts if p.get("type") == "text")
