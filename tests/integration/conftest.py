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
from tests.support.databases import copied_postgres_database, copy_sqlite, migrated_template
from tests.support.postgres import fresh_postgres_database


@pytest.fixture
def fresh_database_url(backend: str, database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database no other test or server uses (job runners claim everything due)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    with fresh_postgres_database(database_url) as url:
        yield url


@pytest.fixture(scope="session")
def template_database_url(
    backend: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database migrated to head for the session; tests get copies of it."""
    with migrated_template(backend, database_url, tmp_path_factory.mktemp("template")) as url:
        yield url


@pytest.fixture
def migrated_database_url(
    backend: str, template_database_url: str, tmp_path: Path
) -> Iterator[str]:
    """Like ``fresh_database_url``, but already at the head revision: a copy of the
    session's migrated template (migrating costs seconds a test; the migrations are
    tested from an empty database in test_migrations.py)."""
    if backend == "sqlite":
        yield copy_sqlite(template_database_url, tmp_path / "own.db")
        return
    with copied_postgres_database(template_database_url) as url:
        yield url


@pytest.fixture
async def storage(migrated_database_url: str) -> AsyncIterator[Storage]:
    """Storage on a database of the test's own at the head revision (for ``anyio`` tests)."""
    db = Database(migrated_database_url)
    await upgrade_to_head(db)  # a no-op check: the copy is already at head
    yield Storage(db)
    await db.dispose()


@pytest.fixture
async def services(migrated_database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    """Every service on a database of the test's own, on a manual clock, started (for
    ``anyio`` tests)."""
    built = build_services(
        Settings(database_url=migrated_database_url, data_dir=tmp_path, clock="manual"),
        ManualClock(),
    )
    await start(built)
    yield built
    await stop(built)
