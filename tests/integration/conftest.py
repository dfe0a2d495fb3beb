"""Integration fixtures: a database of the test's own, on the chosen backend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from openlinq.store.engine import normalise_url


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
