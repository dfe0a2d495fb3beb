"""API-key lookups are cached for a few seconds; changes made here take effect at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from openlinq.domain.accounts import KEY_CACHE_SECONDS, AccountService
from openlinq.domain.clock import ManualClock
from openlinq.domain.errors import LinqError
from openlinq.domain.ids import AccountId
from openlinq.store.engine import Database
from openlinq.store.migrate import upgrade_to_head
from openlinq.store.unit import Storage

pytestmark = pytest.mark.anyio


class Timer:
    """A monotonic timer the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Processes:
    """The same database seen by this process's accounts and by another process's."""

    here: AccountService
    elsewhere: AccountService
    timer: Timer


@pytest.fixture
async def processes(migrated_database_url: str) -> AsyncIterator[Processes]:
    databases = [Database(migrated_database_url), Database(migrated_database_url)]
    await upgrade_to_head(databases[0])
    timer = Timer()
    clock = ManualClock()
    here = AccountService(Storage(databases[0]), clock, monotonic=timer)
    elsewhere = AccountService(Storage(databases[1]), clock)
    yield Processes(here, elsewhere, timer)
    for db in databases:
        await db.dispose()


async def _unauthorized(accounts: AccountService, key: str) -> bool:
    try:
        await accounts.authenticate(key)
    except LinqError:
        return True
    return False


async def _only_key_id(accounts: AccountService, account_id: AccountId) -> str:
    (key,) = await accounts.keys(account_id)
    return str(key["id"])


async def test_a_key_revoked_in_this_process_is_refused_at_once(processes: Processes) -> None:
    accounts = processes.here
    account, key = await accounts.create_account("acme")
    assert (await accounts.authenticate(key)).id == account.id  # now cached
    assert await accounts.revoke_key(await _only_key_id(accounts, account.id))
    assert await _unauthorized(accounts, key)


async def test_a_policy_change_in_this_process_is_seen_at_once(processes: Processes) -> None:
    accounts = processes.here
    account, key = await accounts.create_account("acme")
    assert (await accounts.authenticate(key)).pair_limit_per_minute is None
    await accounts.set_policy(
        account.id, pair_limit_per_minute=5, daily_message_limit=None, retention_hours=None
    )
    assert (await accounts.authenticate(key)).pair_limit_per_minute == 5


async def test_another_process_s_revocation_is_seen_when_the_lookup_expires(
    processes: Processes,
) -> None:
    here, elsewhere, timer = processes.here, processes.elsewhere, processes.timer
    account, key = await here.create_account("acme")
    await here.authenticate(key)
    assert await elsewhere.revoke_key(await _only_key_id(elsewhere, account.id))
    timer.now += KEY_CACHE_SECONDS - 0.1
    assert (await here.authenticate(key)).id == account.id  # still trusted from the cache
    timer.now += 0.1
    assert await _unauthorized(here, key)


async def test_a_key_added_by_another_process_works_at_once(processes: Processes) -> None:
    here, elsewhere = processes.here, processes.elsewhere
    account, _ = await here.create_account("acme")
    new_key = "olq_" + "k" * 43
    assert await _unauthorized(here, new_key)  # refusals are not cached
    await elsewhere.add_key(account.id, "ci", new_key)
    assert (await here.authenticate(new_key)).id == account.id


async def test_a_key_is_revoked_only_within_the_account_named(processes: Processes) -> None:
    accounts = processes.here
    account, key = await accounts.create_account("acme")
    other, _ = await accounts.create_account("other")
    key_id = await _only_key_id(accounts, account.id)
    assert not await accounts.revoke_key(key_id, account_id=other.id)
    assert (await accounts.authenticate(key)).id == account.id
    assert await accounts.revoke_key(key_id, account_id=account.id)
    assert await _unauthorized(accounts, key)


@pytest.mark.parametrize(
    "policy",
    [
        {"pair_limit_per_minute": -1},
        {"daily_message_limit": 2**31},
        {"retention_hours": -1.0},
        {"retention_hours": float("inf")},
        {"retention_hours": float("nan")},
    ],
)
async def test_a_policy_out_of_range_is_refused(
    processes: Processes, policy: dict[str, float]
) -> None:
    accounts = processes.here
    account, _ = await accounts.create_account("acme")
    values: dict[str, float | None] = {
        "pair_limit_per_minute": None,
        "daily_message_limit": None,
        "retention_hours": None,
        **policy,
    }
    with pytest.raises(LinqError):
        await accounts.set_policy(account.id, **values)  # type: ignore[arg-type]
    assert (await accounts.get(account.id)).retention_hours is None


# -- several processes starting at once on one database -------------------------------------------

SANDBOX_KEY = "olq_" + "s" * 43


async def test_processes_starting_at_once_on_an_empty_database_make_one_sandbox(
    processes: Processes,
) -> None:
    first, second = await asyncio.gather(
        processes.here.ensure_sandbox(SANDBOX_KEY), processes.elsewhere.ensure_sandbox(SANDBOX_KEY)
    )
    assert first.account.id == second.account.id
    assert sorted([first.created, second.created]) == [False, True]
    assert [line.phone_number for line in first.lines] == [
        line.phone_number for line in second.lines
    ]
    assert [a.name for a, _ in await processes.here.list_accounts()] == ["sandbox"]
    assert (await processes.elsewhere.authenticate(SANDBOX_KEY)).id == first.account.id
