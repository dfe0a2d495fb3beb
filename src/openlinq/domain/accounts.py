"""Partner accounts, their API keys and lines; the sandbox made on first start."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.handles import parse_phone
from openlinq.domain.ids import AccountId, ApiKeyId, LineId, new_id
from openlinq.domain.models import Account, AccountTier, Line, LineStatus, LineType, Reputation
from openlinq.domain.views import Origin, account_event_data, api_token_view
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

KEY_PREFIX = "olq_"
SANDBOX_NAME = "sandbox"
SANDBOX_LINES = (
    ("+12025550180", LineType.IMESSAGE),
    ("+12025550181", LineType.IMESSAGE),
    ("+12025550182", LineType.IMESSAGE),
    ("+12025550183", LineType.RCS),
)
# How long a process trusts an API key lookup. Revoking a key or changing an account's
# policy clears this process's cache at once; other processes see the change within this.
KEY_CACHE_SECONDS = 5.0


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough to make a stolen
    # table useless; a slow password hash would only slow every request.
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


# How much of a generated key (47 characters) is kept in clear to tell keys apart:
# "olq_" and 4 random characters.
SHOWN_PREFIX = 8


def shown_prefix(key: str, *, generated: bool) -> str | None:
    """The part of a key stored in clear: a little of a generated key, nothing of a
    chosen one (a short dev key's first characters could be most of it)."""
    return key[:SHOWN_PREFIX] if generated else None


# The limits are stored as 32-bit integers; retention must fit a date after adding it.
_MAX_LIMIT = 2**31 - 1
MAX_RETENTION_HOURS = 24 * 365 * 100


def _check_policy(pair_limit: int | None, daily_limit: int | None, hours: float | None) -> None:
    for name, count in (
        ("pair_limit_per_minute", pair_limit),
        ("daily_message_limit", daily_limit),
    ):
        if count is not None and not 0 <= count <= _MAX_LIMIT:
            raise LinqError(ErrorCode.INVALID_PARAMETER, f"{name} must be from 0 to {_MAX_LIMIT}")
    if hours is not None and not 0 <= hours <= MAX_RETENTION_HOURS:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER, f"retention_hours must be from 0 to {MAX_RETENTION_HOURS}"
        )


@dataclass(frozen=True, slots=True)
class Sandbox:
    account: Account
    lines: list[Line]
    api_key: str | None
    created: bool


class AccountService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        events: EventLog | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.clock = clock
        # Changes made with an ``origin`` (the CLI, the console, the simulator) are
        # announced as events; provisioning a new account (no origin) is not.
        self.events = events or EventLog()
        # Every request authenticates; a read transaction each time costs more than the
        # rest of a small request. Keyed by key digest; only valid keys are cached, so a
        # new key works at once and unknown keys cannot grow the cache.
        self._monotonic = monotonic
        self._keys: dict[str, tuple[float, Account]] = {}

    async def authenticate(self, key: str | None) -> Account:
        if not key:
            raise LinqError(ErrorCode.UNAUTHORIZED, "missing Bearer API key")
        digest = hash_key(key)
        cached = self._keys.get(digest)
        now = self._monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.storage.read() as repos:
            account, stored = await repos.accounts.account_for_key_hash(digest)
        if account is None or not hmac.compare_digest(stored or "", digest):
            self._keys.pop(digest, None)
            raise LinqError(ErrorCode.UNAUTHORIZED, "invalid API key")
        self._keys[digest] = (now + KEY_CACHE_SECONDS, account)
        return account

    def forget_keys(self) -> None:
        """Drop cached key lookups, so this process sees a revocation or policy change now."""
        self._keys.clear()

    async def create_account(
        self, name: str, tier: AccountTier = AccountTier.STANDARD, key: str | None = None
    ) -> tuple[Account, str]:
        account = Account(AccountId(new_id()), name, tier, self.clock.now())
        async with self.storage.write() as repos:
            await repos.accounts.add(account)
        return account, await self.add_key(account.id, "default", key)

    async def add_key(
        self,
        account_id: AccountId,
        name: str | None,
        key: str | None = None,
        *,
        origin: Origin | None = None,
    ) -> str:
        async with self.storage.write() as repos:
            if await repos.accounts.get(account_id) is None:
                raise LookupError(f"account {account_id} does not exist")
            return await self._insert_key(repos, account_id, name, key, origin)

    async def _insert_key(
        self,
        repos: Repos,
        account_id: AccountId,
        name: str | None,
        key: str | None,
        origin: Origin | None = None,
    ) -> str:
        generated = key is None
        key = key or generate_key()
        key_id = ApiKeyId(new_id())
        prefix = shown_prefix(key, generated=generated)
        now = self.clock.now()
        await repos.accounts.add_key(key_id, account_id, hash_key(key), prefix, name, now)
        if origin is not None:
            token = api_token_view({"id": key_id, "prefix": prefix, "name": name})
            await self._account_event(
                repos, account_id, "api_token.created", "API token created", origin, api_token=token
            )
        return key

    async def _account_event(
        self,
        repos: Repos,
        account_id: AccountId,
        event_type: str,
        summary: str,
        origin: Origin,
        **objects: Any,
    ) -> None:
        now = self.clock.now()
        data = account_event_data(summary, now, origin, **objects)
        await self.events.record(
            repos, account_id, event_type, data, phone_number=objects.get("phone_number"), now=now
        )

    async def add_line(
        self,
        account_id: AccountId,
        phone_number: str,
        line_type: LineType = LineType.IMESSAGE,
        *,
        rcs_enabled: bool = True,
        origin: Origin | None = None,
    ) -> Line:
        """Give the account a line (emits phone_number.assigned when ``origin`` is given).

        A number the account released comes back to it (same id, its chats' history
        intact); a number another account holds, released or not, is a 409.
        """
        number = parse_phone(phone_number, "phone_number")
        line = self._new_line(account_id, number, line_type, rcs_enabled=rcs_enabled)
        async with self.storage.write() as repos:
            if await repos.accounts.get(account_id) is None:
                raise LookupError(f"account {account_id} does not exist")
            await repos.locks.hold(f"line-number:{number}")  # one holder per number
            released = await repos.lines.by_number(account_id, number, released=True)
            if released is not None and released.released_at is not None:
                await repos.lines.set_released(released.id, None)
                line = replace(released, released_at=None)
            elif await repos.lines.number_taken(line.phone_number):
                raise LinqError(
                    ErrorCode.STATE_CONFLICT, f"{line.phone_number} already belongs to an account"
                )
            else:
                await repos.lines.add(line)
            if origin is not None:
                await self._line_changed(repos, line, "phone_number.assigned")
        return line

    async def release_line(self, account_id: AccountId, phone_number: str) -> Line:
        """Take a line from the account (phone_number.released): it no longer sends,
        receives or lists; its chats and messages stay readable."""
        number = parse_phone(phone_number, "phone_number")
        now = self.clock.now()
        async with self.storage.write() as repos:
            line = await repos.lines.by_number(account_id, number)
            if line is None:
                raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{number} is not your line")
            await repos.lines.set_released(line.id, now)
            await self._line_changed(repos, line, "phone_number.released")
        return replace(line, released_at=now)

    async def _line_changed(self, repos: Repos, line: Line, event_type: str) -> None:
        now = self.clock.now()
        await self.events.record(
            repos,
            line.account_id,
            event_type,
            {"phone_number": line.phone_number, "changed_at": now},
            phone_number=line.phone_number,
            now=now,
        )

    def _new_line(
        self, account_id: AccountId, number: str, line_type: LineType, *, rcs_enabled: bool = True
    ) -> Line:
        return Line(
            id=LineId(new_id()),
            account_id=account_id,
            phone_number=number,
            line_type=line_type,
            rcs_enabled=rcs_enabled,
            status=LineStatus.ACTIVE,
            reputation=Reputation.HEALTHY,
            forwarding_number=None,
            last_used_at=None,
            created_at=self.clock.now(),
        )

    async def list_accounts(self) -> list[tuple[Account, list[Line]]]:
        async with self.storage.read() as repos:
            return [(a, await repos.lines.of_account(a.id)) for a in await repos.accounts.all()]

    async def ensure_sandbox(self, dev_key: str | None) -> Sandbox:
        """Create the local sandbox account on an empty database; honour a fixed dev key.

        One transaction under one lock: processes starting at once on one database (API
        processes, workers, other hosts) make one sandbox and add the dev key once.
        """
        async with self.storage.write() as repos:
            await repos.locks.hold("bootstrap")
            accounts = await repos.accounts.all()
            if accounts:
                sandboxes = [a for a in accounts if a.name == SANDBOX_NAME]
                account = (sandboxes or accounts)[0]
                if dev_key is not None:
                    holder, _ = await repos.accounts.account_for_key_hash(hash_key(dev_key))
                    if holder is None:
                        await self._insert_key(repos, account.id, "dev", dev_key)
                lines = await repos.lines.of_account(account.id)
                return Sandbox(account, lines, dev_key, created=False)
            account = Account(
                AccountId(new_id()), SANDBOX_NAME, AccountTier.LOCAL, self.clock.now()
            )
            await repos.accounts.add(account)
            key = await self._insert_key(repos, account.id, "default", dev_key)
            lines = [self._new_line(account.id, n, t) for n, t in SANDBOX_LINES]
            for line in lines:
                await repos.lines.add(line)
        return Sandbox(account, lines, key, created=True)

    async def get(self, account_id: AccountId) -> Account:
        async with self.storage.read() as repos:
            account = await repos.accounts.get(account_id)
        if account is None:
            raise LookupError(f"account {account_id} does not exist")
        return account

    async def keys(self, account_id: AccountId) -> list[dict[str, Any]]:
        async with self.storage.read() as repos:
            return await repos.accounts.keys(account_id)

    async def revoke_key(
        self, key_id: str, *, account_id: AccountId | None = None, origin: Origin | None = None
    ) -> bool:
        """Revoke one active key; with ``account_id``, only a key of that account (the
        console acts for one account and must not reach another's keys)."""
        async with self.storage.write() as repos:
            key = await repos.accounts.key(ApiKeyId(key_id))
            revoked = await repos.accounts.revoke_key(
                ApiKeyId(key_id), self.clock.now(), account_id=account_id
            )
            if revoked and key is not None and origin is not None:
                await self._account_event(
                    repos,
                    AccountId(key["account_id"]),
                    "api_token.deleted",
                    "API token deleted",
                    origin,
                    api_token=api_token_view(key),
                )
        self.forget_keys()
        return revoked

    async def rotate_keys(
        self, account_id: AccountId, name: str | None, *, origin: Origin | None = None
    ) -> str:
        """A new key for the account; every key it had before is revoked."""
        old = [k["id"] for k in await self.keys(account_id) if k["revoked_at"] is None]
        key = await self.add_key(account_id, name or "rotated", origin=origin)
        for key_id in old:
            await self.revoke_key(key_id, origin=origin)
        return key

    async def set_policy(
        self,
        account_id: AccountId,
        *,
        pair_limit_per_minute: int | None,
        daily_message_limit: int | None,
        retention_hours: float | None,
    ) -> Account:
        """Set an account's limits and retention (None: the platform default; 0: none)."""
        _check_policy(pair_limit_per_minute, daily_message_limit, retention_hours)
        await self.get(account_id)
        async with self.storage.write() as repos:
            await repos.accounts.set_policy(
                account_id,
                pair_limit_per_minute=pair_limit_per_minute,
                daily_message_limit=daily_message_limit,
                retention_hours=retention_hours,
            )
        self.forget_keys()  # cached lookups carry the account, limits included
        return await self.get(account_id)
