"""Prepared statements on SQLite: the driver runs them, and they answer as SQLAlchemy does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from openlinq.store.engine import Database, affected_rows
from openlinq.store.prepared import prepare
from openlinq.store.tables import metadata, rate_hits, server_settings
from openlinq.store.types import JSONDocument, UTCDateTime

pytestmark = pytest.mark.anyio

_scratch = MetaData()
things = Table(
    "things",
    _scratch,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("doc", JSONDocument, nullable=True),
    Column("at", UTCDateTime, nullable=True),
)
_INSERT = insert(things)
_ONE = select(things).where(things.c.id == bindparam("thing_id"))
_RENAME = update(things).where(things.c.id == bindparam("thing_id")).values(name=bindparam("to"))
_ANY_OF = select(things).where(things.c.id.in_(bindparam("ids", expanding=True)))
_SETTING = insert(server_settings)
# A guarded update answering with the row, as a delivery receipt's (repos/messages.py).
_FLAG_RETURNING = (
    update(things)
    .where(things.c.id == bindparam("thing_id"), things.c.flag.in_([False]))
    .values(flag=True, at=bindparam("when"))
    .returning(*things.c)
)
prepare(_INSERT, _ONE, _RENAME, _ANY_OF, _SETTING, _FLAG_RETURNING)
_ONE_UNPREPARED = select(things).where(things.c.id == bindparam("thing_id"))

WHEN = datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'prepared.db'}")
    async with database.transaction() as conn:
        await conn.run_sync(_scratch.create_all)
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


def _statements(db: Database) -> list[str]:
    """The statements SQLAlchemy itself executes from now on."""
    assert db.sqlite is not None
    seen: list[str] = []
    event.listen(
        db.sqlite.engine, "before_cursor_execute", lambda *args: seen.append(args[2].split()[0])
    )
    return seen


async def test_prepared_statements_bypass_sqlalchemy_and_read_back_the_same_values(
    db: Database,
) -> None:
    seen = _statements(db)
    doc = {"parts": [{"type": "text", "value": "hé 🎉"}], "n": 3}
    async with db.transaction() as conn:
        await conn.execute(_INSERT, {"id": 1, "name": "one", "flag": True, "doc": doc, "at": WHEN})
        await conn.execute(_INSERT, {"id": 2, "name": "two", "flag": False})  # columns left out
    async with db.read() as conn:
        fast = (await conn.execute(_ONE, {"thing_id": 1})).one()
        slow = (await conn.execute(_ONE_UNPREPARED, {"thing_id": 1})).one()
        partial = (await conn.execute(_ONE, {"thing_id": 2})).one()
    # Only the unprepared select went through it (and the write's BEGIN; a read begins on
    # the driver).
    assert seen == ["BEGIN", "SELECT"]
    assert fast == slow
    assert (fast.id, fast.name, fast.flag, fast.doc, fast.at) == (1, "one", True, doc, WHEN)
    assert fast.at.tzinfo is UTC
    assert (partial.flag, partial.doc, partial.at) == (False, None, None)
    assert fast._mapping["name"] == "one"


async def test_a_prepared_update_counts_the_rows_it_changed(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(_INSERT, {"id": 1, "name": "one", "flag": True})
        changed = affected_rows(await conn.execute(_RENAME, {"thing_id": 1, "to": "uno"}))
        missed = affected_rows(await conn.execute(_RENAME, {"thing_id": 9, "to": "nueve"}))
        renamed = (await conn.execute(_ONE, {"thing_id": 1})).one()
    assert (changed, missed, renamed.name) == (1, 0, "uno")


async def test_an_update_returning_its_row_runs_through_the_driver(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(_INSERT, {"id": 1, "name": "one", "flag": False, "doc": {"a": [1]}})
    seen = _statements(db)
    async with db.transaction() as conn:
        moved = await conn.execute(_FLAG_RETURNING, {"thing_id": 1, "when": WHEN})
        [row] = moved.all()
        again = await conn.execute(_FLAG_RETURNING, {"thing_id": 1, "when": WHEN})
        assert (affected_rows(moved), again.all(), affected_rows(again)) == (1, [], 0)
    assert seen == ["BEGIN"]  # SQLAlchemy ran neither update
    assert (row.id, row.name, row.flag, row.doc, row.at) == (1, "one", True, {"a": [1]}, WHEN)
    assert row.at.tzinfo is UTC


async def test_in_lists_are_spelled_out_and_an_empty_one_is_left_to_sqlalchemy(
    db: Database,
) -> None:
    async with db.transaction() as conn:
        for thing_id in (1, 2, 3):
            await conn.execute(_INSERT, {"id": thing_id, "name": "x", "flag": False})
    seen = _statements(db)
    async with db.read() as conn:
        found = (await conn.execute(_ANY_OF, {"ids": [1, 3]})).all()
        one = (await conn.execute(_ANY_OF, {"ids": [2]})).all()
        none = (await conn.execute(_ANY_OF, {"ids": []})).all()
    assert sorted(row.id for row in found) == [1, 3]
    assert [row.id for row in one] == [2]
    assert none == []
    assert seen == ["SELECT"]  # only the empty list went through SQLAlchemy


async def test_driver_errors_are_sqlalchemy_errors(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(_SETTING, {"key": "k", "value": "v"})
    with pytest.raises(IntegrityError):
        async with db.transaction() as conn:
            await conn.execute(_SETTING, {"key": "k", "value": "again"})


async def test_the_serial_key_is_assigned_when_left_out(db: Database) -> None:
    hit = insert(rate_hits)
    prepare(hit)
    async with db.transaction() as conn:
        for _ in range(2):
            await conn.execute(hit, {"key": "pair", "at": WHEN})
        rows = (await conn.execute(select(rate_hits))).all()
    assert [row.id for row in rows] == [1, 2]


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("2026-12-02 01:02:03.456789", WHEN),  # as SQLAlchemy writes it
        ("2026-12-02 01:02:03", WHEN.replace(microsecond=0)),
        ("2026-12-02T03:02:03.456789+02:00", WHEN),  # another zone: converted to UTC
        ("2026-12-02", datetime(2026, 12, 2, tzinfo=UTC)),  # only a date: the general way
    ],
)
async def test_stored_moments_and_documents_read_back_the_same_either_way(
    db: Database, stored: str, read: datetime
) -> None:
    """The SQLite shortcuts for datetimes and JSON (store/types.py) agree with SQLAlchemy."""
    async with db.transaction() as conn:
        await conn.execute(
            text("INSERT INTO things (id, name, flag, doc, at) VALUES (1, 'x', 0, :doc, :at)"),
            {"doc": '{"a": [1, "é"]}', "at": stored},
        )
    async with db.read() as conn:
        fast = (await conn.execute(_ONE, {"thing_id": 1})).one()
        slow = (await conn.execute(_ONE_UNPREPARED, {"thing_id": 1})).one()
    assert fast.at == slow.at == read
    assert fast.at.tzinfo is UTC
    assert slow.at.tzinfo is UTC
    assert fast.doc == slow.doc == {"a": [1, "é"]}
