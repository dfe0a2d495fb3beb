from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update

from openlinq.domain.ids import AccountId, ApiKeyId
from openlinq.domain.models import Account, AccountTier
from openlinq.store.engine import DbConnection, affected_rows
from openlinq.store.prepared import prepare
from openlinq.store.tables import accounts, api_keys


def _account(row: Any) -> Account:
    return Account(
        id=AccountId(row.id),
        name=row.name,
        tier=AccountTier(row.tier),
        created_at=row.created_at,
        pair_limit_per_minute=row.pair_limit_per_minute,
        daily_message_limit=row.daily_message_limit,
        retention_hours=row.retention_hours,
    )


# Every request authenticates (when its key's lookup is not cached): built once.
_FOR_KEY_HASH = (
    select(accounts, api_keys.c.key_hash)
    .join(api_keys, api_keys.c.account_id == accounts.c.id)
    .where(api_keys.c.key_hash == bindparam("key_hash"), api_keys.c.revoked_at.is_(None))
)


# Run by every send, read or delivery: through the driver on SQLite (store/prepared.py).
prepare(_FOR_KEY_HASH)


class AccountRepo:
    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn

    async def count(self) -> int:
        return int(
            (await self.conn.execute(select(func.count()).select_from(accounts))).scalar_one()
        )

    async def add(self, account: Account) -> None:
        await self.conn.execute(
            accounts.insert().values(
                id=account.id,
                name=account.name,
                tier=account.tier.value,
                created_at=account.created_at,
            )
        )

    async def set_policy(self, account_id: AccountId, **values: int | float | None) -> None:
        """Change limits or retention (``pair_limit_per_minute``, ``daily_message_limit``,
        ``retention_hours``)."""
        await self.conn.execute(
            update(accounts).where(accounts.c.id == account_id).values(**values)
        )

    async def get(self, account_id: AccountId) -> Account | None:
        row = (await self.conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
        return _account(row) if row else None

    async def all(self) -> list[Account]:
        rows = await self.conn.execute(select(accounts).order_by(accounts.c.created_at))
        return [_account(r) for r in rows]

    async def add_key(
        self,
        key_id: ApiKeyId,
        account_id: AccountId,
        key_hash: str,
        prefix: str | None,
        name: str | None,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            api_keys.insert().values(
                id=key_id,
                account_id=account_id,
                key_hash=key_hash,
                prefix=prefix,
                name=name,
                created_at=now,
            )
        )

    async def account_for_key_hash(self, key_hash: str) -> tuple[Account | None, str | None]:
        row = (await self.conn.execute(_FOR_KEY_HASH, {"key_hash": key_hash})).first()
        return (_account(row), row.key_hash) if row else (None, None)

    async def keys(self, account_id: AccountId) -> list[dict[str, Any]]:
        rows = await self.conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.prefix,
                api_keys.c.name,
                api_keys.c.created_at,
                api_keys.c.revoked_at,
            )
            .where(api_keys.c.account_id == account_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        return [dict(r._mapping) for r in rows]

    async def key(self, key_id: ApiKeyId) -> dict[str, Any] | None:
        row = (
            await self.conn.execute(
                select(
                    api_keys.c.id,
                    api_keys.c.account_id,
                    api_keys.c.prefix,
                    api_keys.c.name,
                    api_keys.c.revoked_at,
                ).where(api_keys.c.id == key_id)
            )
        ).first()
        return dict(row._mapping) if row else None

    async def revoke_key(
        self, key_id: ApiKeyId, now: datetime, *, account_id: AccountId | None = None
    ) -> bool:
        query = update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        if account_id is not None:
            query = query.where(api_keys.c.account_id == account_id)
        result = await self.conn.execute(query.values(revoked_at=now))
        return bool(affected_rows(result))
