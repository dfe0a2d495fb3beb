"""Result rows as plain objects, and enum members by value, for the repositories' hot reads.

SQLAlchemy's ``Row`` resolves every attribute through its key map, which cost about
1 µs an attribute on the bench machine; turning a page of messages into domain
objects reads some 600 of them. A named tuple answers in tens of nanoseconds and is
made from a row in about one (a namespace built per row took ten). Likewise an
``Enum``'s own lookup by value took about 5 µs, a dictionary's well under one, and a
page of messages makes a hundred of them.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable
from enum import Enum
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import Result

E = TypeVar("E", bound=Enum)


@functools.lru_cache(maxsize=256)
def _row_type(keys: tuple[str, ...]) -> Callable[[Any], Any] | None:
    try:
        row_type: Any = namedtuple("PlainRow", keys)  # type: ignore[misc]
        make: Callable[[Any], Any] = row_type._make
        return make
    except ValueError:  # a key that is no identifier (or repeats): namespaces instead
        return None


def plain_rows(result: Result[Any]) -> list[Any]:
    """Every row of ``result`` as an object with one attribute per column."""
    keys = tuple(result.keys())
    make = _row_type(keys)
    if make is not None:
        return [make(row) for row in result]
    return [SimpleNamespace(**dict(zip(keys, row, strict=True))) for row in result]


def member_of(kind: type[E]) -> Callable[[Any], E]:
    """``kind(value)``, fast; an unknown value still raises as ``kind(value)`` does."""
    members: dict[Any, E] = {member.value: member for member in kind}

    def member(value: Any) -> E:
        found = members.get(value)
        return found if found is not None else kind(value)

    return member
