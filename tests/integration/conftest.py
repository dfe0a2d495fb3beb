"""Integration fixtures: a database of the test's own, on the chosen backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from openlinq.config import Settings
from openlinq.domain.clock import ManualClock
from openlinq.store.engine import Database
from openlinq.store.migrate import upgrade_to_head
from openlinq.store.unit import Storage
from openlinq.wiring import Services, build_services, start, stop
from tests.support.postgres import fresh_postgres_database


@pytest.fixture
def fresh_database_url(backend: str, database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database no other test or server uses (job runners claim everything due)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    with fresh_postgres_database(database_url) as url:
        yield url


@pytest.fixture
async def storage(fresh_database_url: str) -> AsyncIterator[Storage]:
    """Storage on that database, migrated to the head revision (for ``anyio`` tests)."""
    db = Database(fresh_database_url)
    await upgrade_to_head(db)
    yield Storage(db)
    await db.dispose()


@pytest.fixture
async def services(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    """Every service on that database, on a manual clock, started (for ``anyio`` tests)."""
    built = build_services(
        Settings(database_url=fresh_database_url, data_dir=tmp_path, clock="manual"), ManualClock()
    )
    await start(built)
    yield built
    await stop(built)
