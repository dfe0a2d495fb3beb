"""Migrated databases for tests, made by copying one migrated template.

Running every Alembic migration for each test that only needs an empty schema costs
seconds a test (a PostgreSQL database is created and ~20 revisions of DDL run). The
session migrates one template with the same ``upgrade_to_head`` the server uses; each
test then gets a byte-for-byte copy: ``CREATE DATABASE … TEMPLATE`` on PostgreSQL, the
SQLite backup API on SQLite. Tests that exercise the migrations themselves keep using
an empty database (``fresh_database_url``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url

from openlinq.store.engine import Database
from openlinq.store.migrate import upgrade_to_head
from tests.support.postgres import fresh_postgres_database


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade_to_head(db)
    finally:
        await db.dispose()


def migrate(url: str) -> None:
    """The database at ``url`` brought to the head revision, as the server does it."""
    asyncio.run(_migrate(url))


@contextmanager
def migrated_template(backend: str, database_url: str, directory: Path) -> Iterator[str]:
    """A database migrated to head, never used by a test, only copied."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'template.db'}"
        migrate(url)
        yield url
        return
    with fresh_postgres_database(database_url) as url:
        migrate(url)
        yield url


def copy_sqlite(template_url: str, target: Path) -> str:
    """A copy of the SQLite template at ``target`` (the backup API copies a WAL-mode file
    consistently whatever its -wal file holds)."""
    source = sqlite3.connect(make_url(template_url).database or "")
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return f"sqlite:///{target}"


@contextmanager
def copied_postgres_database(template_url: str) -> Iterator[str]:
    """A new database on the template's server with the template's content, dropped
    afterwards."""
    template = make_url(template_url).database
    with fresh_postgres_database(template_url, template=template) as url:
        yield url
