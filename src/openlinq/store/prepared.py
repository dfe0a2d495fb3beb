"""Statements built once and run by the SQLite driver directly.

Most of a SQLite statement's cost through SQLAlchemy Core is not SQLite's: on the bench
machine a one-row SELECT on a prepared statement took about 136 µs through
``Connection.execute`` and 30 µs through the driver (binding, the execution context,
the cursor result's bookkeeping). The send path runs ten statements, a delivery
receipt a handful more; so the statements that every request or job runs are marked
with ``prepare`` where they are built (at import, once), and on SQLite they are
compiled once and run through the driver, with SQLAlchemy's own bind and result
processors. Any other statement, and every statement on PostgreSQL, runs through
SQLAlchemy as usual.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.engine import Dialect, IteratorResult
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

# Strong references: a registered statement lives as long as the process, so its id()
# is never reused by another object.
_PREPARED: dict[int, Executable] = {}


def prepare(*statements: Executable) -> None:
    """Mark ``statements`` (built once, at import) as ones to run through the driver on SQLite."""
    for statement in statements:
        _PREPARED[id(statement)] = statement


def is_prepared(statement: object) -> bool:
    return id(statement) in _PREPARED


class CountedResult(IteratorResult[Any]):
    """A result that also says how many rows an INSERT, UPDATE or DELETE changed."""

    def __init__(
        self, metadata: SimpleResultMetaData, rows: list[tuple[Any, ...]], rowcount: int
    ) -> None:
        super().__init__(metadata, iter(rows))
        self.rowcount = rowcount


@dataclass(frozen=True, slots=True)
class Plan:
    """A statement compiled for SQLite, with the processors its values go through."""

    compiled: SQLCompiler
    sql: str
    names: tuple[str, ...]
    binds: tuple[Any, ...]  # a processor per parameter, or None
    expanding: frozenset[str]  # parameters that are lists (IN), spelled out per execution
    keys: tuple[str, ...]
    # Built once: building it costs more than running the statement.
    metadata: SimpleResultMetaData
    # (column position, processor, whether it leaves NULL as None) for each column that
    # has one: a row's NULLs (a message has several) then skip the call.
    results: tuple[tuple[int, Callable[[Any], Any], bool], ...]

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect, keys: Sequence[str]) -> Plan | None:
        """The plan for parameters named ``keys`` (an INSERT or UPDATE writes the columns
        given, as in SQLAlchemy), or None when the statement needs what only SQLAlchemy
        does (Python-side defaults, literal rendering). RETURNING is SQLite's own (3.35+):
        its rows come back like a SELECT's."""
        assert isinstance(statement, ClauseElement), "prepared statements are Core statements"
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler), "Core statements compile to SQL"
        if (
            compiled.positiontup is None
            or not all(param.expanding for param in compiled.post_compile_params)
            or compiled.literal_execute_params
            or compiled.insert_prefetch
            or compiled.update_prefetch
        ):
            return None
        names = tuple(compiled.positiontup)
        processors = compiled._bind_processors
        columns = compiled._result_columns
        return cls(
            compiled=compiled,
            sql=compiled.string,
            names=names,
            binds=tuple(processors.get(name) for name in names),
            expanding=frozenset(
                compiled.bind_names[param] for param in compiled.post_compile_params
            ),
            keys=tuple(column.keyname for column in columns),
            metadata=SimpleResultMetaData([column.keyname for column in columns]),
            results=tuple(
                (position, process, _keeps_none(process))
                for position, column in enumerate(columns)
                if (process := column.type._cached_result_processor(dialect, None)) is not None
            ),
        )

    def run(self, conn: Connection, parameters: dict[str, Any] | None) -> CountedResult | None:
        """The statement's result, or None when SQLAlchemy must run it (an empty IN list)."""
        values = self.compiled.construct_params(parameters)
        sql, bound = self.sql, []
        for name, process in zip(self.names, self.binds, strict=True):
            value = values[name]
            if name not in self.expanding:
                bound.append(value if process is None else process(value))
                continue
            items = list(value)
            if not items:
                return None  # SQLAlchemy renders an empty IN as an always-false test
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(items)), 1)
            bound.extend(items if process is None else map(process, items))
        driver = conn.connection.dbapi_connection
        assert driver is not None, "an open connection has a driver connection"
        try:
            cursor = driver.execute(sql, bound)
            rows = cursor.fetchall() if self.keys else []
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(
                sql, bound, error, sqlite3.Error, dialect=conn.dialect
            ) from error
        if rows and self.results:
            rows = [self._processed(row) for row in rows]
        return CountedResult(self.metadata, rows, cursor.rowcount)

    def _processed(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for position, process, keeps_none in self.results:
            value = values[position]
            if value is not None or not keeps_none:
                values[position] = process(value)
        return tuple(values)


def _keeps_none(process: Callable[[Any], Any]) -> bool:
    try:
        return process(None) is None
    except Exception:  # a processor that refuses NULL is always called
        return False
