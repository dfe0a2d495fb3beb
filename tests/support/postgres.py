"""Databases of a test's own on the session's PostgreSQL server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from openlinq.store.engine import normalise_url


async def _admin(url: str, statement: str) -> None:
    admin_url = normalise_url(url).set(database="postgres")
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


def admin(url: str, statement: str) -> None:
    """Run ``statement`` on the server's ``postgres`` database (outside a transaction)."""
    asyncio.run(_admin(url, statement))


@contextmanager
def fresh_postgres_database(database_url: str, template: str | None = None) -> Iterator[str]:
    """A new database on ``database_url``'s server, dropped afterwards: empty, or a copy
    of the database named ``template``."""
    name = f"openlinq_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin(database_url, f'CREATE DATABASE "{name}"{copy}')
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)')
