"""Each account's webhook subscriptions, kept in memory between the writes that change them.

Every event looks its account's subscriptions up, in the transaction that records it;
reading them each time is a query per event for a list that changes a few times a
day. Every write to a subscription goes through ``changing`` inside its transaction:
that transaction reads past the cache (it must see its own change, and must not cache
what may roll back), and the account's entry is dropped once it commits. A load that
an invalidation overtook is not kept (``_generation``).

Only one process writes a SQLite database, so the cache is exact there. Several
processes share a PostgreSQL database and would not see each other's changes, so
there the cache is off and every event reads the table.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from openlinq.domain.ids import AccountId
from openlinq.store.repos import Repos
from openlinq.store.repos.webhooks import Subscription


class SubscriptionCache:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._by_account: dict[AccountId, list[Subscription]] = {}
        self._generation = 0
        self._writing: WeakKeyDictionary[Repos, set[AccountId]] = WeakKeyDictionary()

    @property
    def generation(self) -> int:
        """Take this before a read transaction's first query and pass it to ``of_account``:
        the transaction reads the database as of then, and a change committed since must
        not be cached from it."""
        return self._generation

    async def of_account(
        self, repos: Repos, account_id: AccountId, generation: int | None = None
    ) -> list[Subscription]:
        if not self.enabled or account_id in self._writing.get(repos, ()):
            return await repos.webhooks.of_account(account_id)
        found = self._by_account.get(account_id)
        if found is None:
            if generation is None:  # a write transaction: it reads the latest commit
                generation = self._generation
            found = await repos.webhooks.of_account(account_id)
            if generation == self._generation:
                self._by_account[account_id] = found
        return found

    def changing(self, repos: Repos, account_id: AccountId) -> None:
        """Call before writing any of ``account_id``'s subscriptions in ``repos``."""
        if not self.enabled:
            return
        self._writing.setdefault(repos, set()).add(account_id)
        self.invalidate(account_id)
        repos.after_commit(lambda: self.invalidate(account_id))

    def invalidate(self, account_id: AccountId) -> None:
        self._generation += 1
        self._by_account.pop(account_id, None)
