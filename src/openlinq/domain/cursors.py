"""Page cursors, the one format every paginated list uses.

A cursor is opaque to clients: URL-safe base64 of ``<kind>:<field>:<field>``. Decoding is
strict (exact alphabet and length, ASCII digits only, each number within the database's
64-bit range, the kind of list it was made for), so whatever a client sends, only a
well-typed, in-range value reaches a query; anything else is 400 / 1005.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta

from openlinq.domain.errors import ErrorCode, LinqError

MAX_CURSOR_LENGTH = 200
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
_NUMBER = re.compile(r"0|[1-9][0-9]{0,18}", re.ASCII)
_MAX_INT = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MICROS = (datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)

# One kind per list, so a cursor of one list is not taken by another.
CHATS = "c"
MESSAGES = "m"
THREAD = "t"
THREAD_DESC = "r"
DELIVERIES = "d"


def _invalid(value: str) -> LinqError:
    return LinqError(
        ErrorCode.INVALID_PARAMETER, f"cursor {value[:MAX_CURSOR_LENGTH]!r} is not valid"
    )


def _encode(kind: str, *numbers: int) -> str:
    raw = ":".join([kind, *map(str, numbers)]).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(kind: str, value: str, count: int) -> list[int]:
    if len(value) > MAX_CURSOR_LENGTH or not _ALPHABET.fullmatch(value):
        raise _invalid(value)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, ValueError) as exc:
        raise _invalid(value) from exc
    fields = raw.split(":")
    if len(fields) != count + 1 or fields[0] != kind:
        raise _invalid(value)
    numbers = fields[1:]
    if not all(_NUMBER.fullmatch(n) for n in numbers) or any(int(n) > _MAX_INT for n in numbers):
        raise _invalid(value)
    return [int(n) for n in numbers]


def encode_seq(kind: str, seq: int) -> str:
    return _encode(kind, seq)


def decode_seq(kind: str, value: str | None) -> int | None:
    """The row sequence number a ``kind`` cursor carries (None or empty: the first page)."""
    if not value:
        return None
    (seq,) = _decode(kind, value, 1)
    return seq


def encode_moment_seq(kind: str, at: datetime, seq: int) -> str:
    return _encode(kind, (at - _EPOCH) // timedelta(microseconds=1), seq)


def decode_moment_seq(kind: str, value: str | None) -> tuple[datetime, int] | None:
    """A (UTC time, sequence number) cursor, as keyset pagination on activity needs."""
    if not value:
        return None
    micros, seq = _decode(kind, value, 2)
    if micros > _MAX_MICROS:
        raise _invalid(value)
    return _EPOCH + timedelta(microseconds=micros), seq
