"""Accepted work survives a restart, and the schema is exactly what the migrations build."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from linq import LinqAPIV3
from sqlalchemy import Connection, inspect

from openlinq.config import Settings
from openlinq.store.engine import Database
from openlinq.store.migrate import upgrade_to_head
from openlinq.store.tables import metadata
from tests.support.server import run_server

KEY = "olq_durability_test_key"


def _settings(database_url: str, data_dir: Path, *, worker: bool) -> Settings:
    return Settings(
        database_url=database_url, data_dir=data_dir, dev_api_key=KEY, run_worker=worker
    )


def test_an_accepted_message_is_delivered_after_a_restart(
    fresh_database_url: str, tmp_path: Path
) -> None:
    # First life: the API accepts the send, but nothing runs the jobs (no worker).
    with (
        run_server(_settings(fresh_database_url, tmp_path, worker=False)) as first,
        LinqAPIV3(base_url=first.sdk_base_url, api_key=KEY, max_retries=0) as client,
    ):
        line = client.phone_numbers.list().phone_numbers[0].phone_number
        created = client.chats.create(
            from_=line,
            to=["+14155550104"],  # reads 1 s after delivery
            message={"parts": [{"type": "text", "value": "survive this"}]},
        )
        assert created.chat.message.delivery_status == "queued"
        message_id = created.chat.message.id
    # Second life on the same database, with a real clock and the worker on.
    with run_server(_settings(fresh_database_url, tmp_path, worker=True)) as second:
        with LinqAPIV3(base_url=second.sdk_base_url, api_key=KEY, max_retries=0) as client:
            deadline = time.monotonic() + 15
            status = ""
            while time.monotonic() < deadline:  # waiting for async work, bounded
                status = client.messages.retrieve(message_id).delivery_status
                if status == "read":
                    break
                time.sleep(0.1)
            assert status == "read"
        events = second.call(
            second.services.simulator.recent_events,
            second.call(second.services.accounts.authenticate, KEY),
            100,
        )
        types = [e.type for e in events if e.data.get("id") == message_id]
        assert sorted(types) == ["message.delivered", "message.read", "message.sent"]


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection)
    return list(compare_metadata(context, metadata))


@pytest.mark.anyio
async def test_migrations_build_exactly_the_declared_schema(fresh_database_url: str) -> None:
    db = Database(fresh_database_url)
    try:
        await upgrade_to_head(db)
        await upgrade_to_head(db)  # a second run is a no-op
        async with db.read() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            differences = await conn.run_sync(_differences)
    finally:
        await db.dispose()
    assert set(metadata.tables) <= tables
    assert differences == []


def test_startup_migrates_concurrently_without_conflict(fresh_database_url: str) -> None:
    async def migrate() -> None:
        db = Database(fresh_database_url)
        try:
            await upgrade_to_head(db)
        finally:
            await db.dispose()

    async def both() -> None:
        await asyncio.gather(migrate(), migrate())

    asyncio.run(both())
