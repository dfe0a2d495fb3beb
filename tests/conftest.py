"""Test set-up: the database backend, the shared server, and a fresh tenant per test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import text

from openlinq.store.engine import Database
from tests.support.receiver import Receiver, running_receiver
from tests.support.server import RunningServer, server_with
from tests.support.tenant import Tenant, tenant_on

# Property tests explore the same examples on every run, so CI never flakes on them.
settings.register_profile("openlinq", derandomize=True, database=None, deadline=None)
settings.load_profile("openlinq")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database for integration and contract tests",
    )


def _runs_on(item: pytest.Item, backend: str) -> bool:
    """Whether ``item`` belongs in the run on ``backend``.

    The SQLite run takes every test. The PostgreSQL run takes the tests that use the
    backend's database: a test whose fixtures never reach ``backend`` (its own SQLite
    server, no database at all) does exactly the same in both runs. A test marked
    ``one_backend(name)`` runs on that backend only.
    """
    marker = item.get_closest_marker("one_backend")
    if marker is not None:
        return bool(marker.args[0] == backend)
    return backend == "sqlite" or "backend" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = str(config.getoption("--backend"))
    elsewhere = [item for item in items if not _runs_on(item, backend)]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if _runs_on(item, backend)]


def _reset_postgres(url: str) -> None:
    async def reset() -> None:
        db = Database(url)
        async with db.transaction() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await db.dispose()

    asyncio.run(reset())


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--backend"))


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new, empty database for the session."""
    if backend == "postgres":
        url = os.environ.get("OPENLINQ_TEST_POSTGRES_URL")
        if not url:
            pytest.fail(
                "--backend postgres needs OPENLINQ_TEST_POSTGRES_URL (scripts/with-postgres.sh)"
            )
        _reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'openlinq.db'}"


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server on a manual clock for the whole session; tests isolate by account."""
    with server_with(
        tmp_path_factory.mktemp("server"),
        database_url=database_url,
        # Short enough that a hanging receiver costs a test one second, not ten.
        webhook_timeout_seconds=1.0,
    ) as running:
        yield running


@pytest.fixture
def tenant(server: RunningServer) -> Iterator[Tenant]:
    with tenant_on(server) as created:
        yield created


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked ``pytest.mark.anyio``) run on asyncio, like the server."""
    return "asyncio"
