"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general
        slow = general

        def process(value: Any) -> datetime | None:
            # SQLite holds the naive UTC text SQLAlchemy wrote ("2026-12-02 05:35:47.123456"):
            # parsed with its zone spelled out, it costs a tenth of parsing and then
            # attaching the zone (datetime.replace alone took 3 µs on the bench machine),
            # and a page of messages has a hundred of them.
            if isinstance(value, str) and value[10:11] == " ":
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    pass  # another spelling (a zone of its own): the general way below
            return slow(value)

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def load_json(value: str | bytes) -> Any:
    """The engines' JSON reader: orjson, several times faster than json on message parts.

    Anything but text is a TypeError, as with json.loads: SQLite's JSON type then
    returns a bare stored number as it is."""
    if not isinstance(value, str | bytes):
        raise TypeError(f"JSON text expected, not {type(value).__name__}")
    return orjson.loads(value)


class JSONDocument(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL.

    A decorator rather than ``JSON().with_variant(JSONB(), ...)``: naming JSONB at import
    loads SQLAlchemy's whole PostgreSQL dialect into every SQLite server."""

    impl = JSON
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general
        slow = general

        def process(value: Any) -> Any:
            # Stored JSON text straight to orjson: SQLAlchemy's SQLite JSON type reaches it
            # through three calls per value, and a page of messages reads sixty values.
            return orjson.loads(value) if isinstance(value, str) else slow(value)

        return process

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


SerialKey = BigInteger().with_variant(Integer(), "sqlite")
