"""Integration fixtures: a database of the test's own, on the chosen backend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from openlinq.store.engine import Database, normalise_url
from openlinq.store.migrate import upgrade_to_head
from openlinq.store.unit import Storage


async def _admin(url: str, statement: str) -> None:
    admin_url = normalise_url(url).set(database="postgres")
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture
def fresh_database_url(backend: str, database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database no other test or server uses (job runners claim everything due)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    name = f"openlinq_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
async def storage(fresh_database_url: str) -> AsyncIterator[Storage]:
    """Storage on that database, migrated to the head revision (for ``anyio`` tests)."""
    db = Database(fresh_database_url)
    await upgrade_to_head(db)
    yield Storage(db)
    await db.dispose()
