"""The statements a block of code runs, and their query plans, on SQLite and PostgreSQL.

PostgreSQL's plans are taken with sequential scans switched off: a table of a few test
rows is scanned whatever its indexes, but with seqscans off the planner still chooses
one only when no index can answer the statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event, text

from openlinq.store.unit import Storage

Statement = tuple[str, Any]


def _engine(storage: Storage) -> Engine:
    db = storage.db
    if db.sqlite is not None:
        return db.sqlite.engine
    assert db.engine is not None
    return db.engine.sync_engine


@contextmanager
def recorded(storage: Storage) -> Iterator[list[Statement]]:
    """Every statement run on ``storage`` inside the block, with its parameters."""
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = _engine(storage)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def plan(storage: Storage, statement: Statement) -> str:
    """The plan of one recorded statement, as text (one line per plan row)."""
    sql, parameters = statement
    sqlite = storage.db.sqlite
    if sqlite is not None:
        with sqlite.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters).all()
        return "\n".join(str(row[-1]) for row in rows)

    def explain(sync: Connection) -> str:
        sync.execute(text("SET LOCAL enable_seqscan = off"))
        rows = sync.exec_driver_sql(f"EXPLAIN {sql}", parameters).all()
        return "\n".join(str(row[0]) for row in rows)

    async with storage.db.read() as pg:
        result: str = await pg.run_sync(explain)
        return result


def scans(plan_text: str, table: str) -> bool:
    """Whether the plan reads every row of ``table`` (no index used for it)."""
    return f"SCAN {table}" in plan_text or f"Seq Scan on {table}" in plan_text
