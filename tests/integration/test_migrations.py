"""The Alembic migrations build exactly the schema store/tables.py declares, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text

from openlinq.config import Settings
from openlinq.domain.clock import ManualClock
from openlinq.domain.parts import build_content
from openlinq.store.engine import Database
from openlinq.store.migrate import alembic_config, upgrade_to_head
from openlinq.store.repos.carrier_refs import CarrierRefRepo
from openlinq.store.tables import messages, metadata
from openlinq.wiring import build_services, start, stop
from tests.support.tenant import fresh_line_number

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(fresh_database_url: str) -> AsyncIterator[Database]:
    database = Database(fresh_database_url)
    yield database
    await database.dispose()


def _schema(connection: Connection) -> dict[str, Any]:
    """Everything about the schema a migration could change, in a comparable form."""
    inspector = inspect(connection)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "indexes": sorted(
                (i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in inspector.get_foreign_keys(table)
            ),
        }
        for table in sorted(inspector.get_table_names())
    }


def _version(connection: Connection) -> list[str]:
    return [r[0] for r in connection.execute(text("SELECT version_num FROM alembic_version"))]


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


async def _inspect(db: Database) -> tuple[dict[str, Any], list[str]]:
    async with db.read() as conn:
        return await conn.run_sync(_schema), await conn.run_sync(_version)


async def test_an_empty_database_gets_every_table_and_the_head_revision(db: Database) -> None:
    async with db.read() as conn:
        assert await conn.run_sync(lambda c: inspect(c).get_table_names()) == []
    await upgrade_to_head(db)
    schema, version = await _inspect(db)
    assert set(schema) == {*metadata.tables, "alembic_version"}
    for name, table in metadata.tables.items():
        assert {c[0] for c in schema[name]["columns"]} == {c.name for c in table.columns}
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert version == [head]


async def test_a_second_upgrade_is_a_no_op(db: Database) -> None:
    await upgrade_to_head(db)
    async with db.transaction() as conn:  # data survives: nothing is rebuilt
        await conn.execute(
            text("INSERT INTO server_settings (key, value) VALUES ('probe', 'kept')")
        )
    before = await _inspect(db)
    await upgrade_to_head(db)
    assert await _inspect(db) == before
    async with db.read() as conn:
        kept = await conn.execute(text("SELECT value FROM server_settings WHERE key = 'probe'"))
        assert kept.scalar_one() == "kept"


async def test_the_migrated_schema_matches_the_declared_tables(db: Database) -> None:
    await upgrade_to_head(db)
    async with db.read() as conn:
        assert await conn.run_sync(_differences) == []


async def test_processes_starting_together_migrate_once(
    db: Database, fresh_database_url: str
) -> None:
    others = [Database(fresh_database_url) for _ in range(2)]
    try:
        await asyncio.gather(upgrade_to_head(db), *(upgrade_to_head(o) for o in others))
    finally:
        for other in others:
            await other.dispose()
    schema, version = await _inspect(db)
    assert set(schema) == {*metadata.tables, "alembic_version"}
    assert len(version) == 1


async def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    from alembic import command

    def run(connection: Connection) -> None:
        move = command.downgrade if down else command.upgrade
        move(alembic_config(connection), revision)

    database = Database(url)
    try:
        async with database.transaction() as conn:
            await conn.run_sync(run)
    finally:
        await database.dispose()


async def _extra(db: Database, message_id: str) -> dict[str, Any]:
    async with db.read() as conn:
        found = await conn.execute(select(messages.c.extra).where(messages.c.id == message_id))
        extra: dict[str, Any] = found.scalar_one()
        return extra


async def test_bluebubbles_refs_move_from_messages_extra_to_carrier_refs_and_back(
    db: Database, fresh_database_url: str, tmp_path: Path
) -> None:
    services = build_services(
        Settings(database_url=fresh_database_url, data_dir=tmp_path, clock="manual"),
        ManualClock(),
    )
    await start(services)
    try:
        account, _ = await services.accounts.create_account("bluebubbles")
        line = await services.accounts.add_line(account.id, fresh_line_number())
        content = build_content({"parts": [{"type": "text", "value": "hello"}]})
        sent = await services.messaging.create_chat(
            account, line.phone_number, ["+14155551313"], content, "fp"
        )
        now = services.clock.now()
        async with services.storage.write() as repos:
            await repos.line_carriers.put(line.id, "bluebubbles", "0" * 64, "sealed", now)
            await repos.carrier_refs.put_message(line.id, "GUID-1", sent.message.id, now)
            await repos.carrier_refs.put_chat(line.id, "iMessage;-;+14155551313", sent.chat.id, now)
    finally:
        await stop(services)

    before = await _extra(db, sent.message.id)  # what else the message keeps there
    await _migrate(fresh_database_url, "0017", down=True)
    assert await _extra(db, sent.message.id) == {
        **before,
        "carrier_ref": "GUID-1",
        "carrier_chat": "iMessage;-;+14155551313",
    }
    await _migrate(fresh_database_url, "head")
    assert await _extra(db, sent.message.id) == before
    async with db.read() as conn:
        refs = CarrierRefRepo(conn)
        assert await refs.message_for(line.id, "GUID-1") == sent.message.id
        assert await refs.chat_for(line.id, "iMessage;-;+14155551313") == sent.chat.id
