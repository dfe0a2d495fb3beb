"""domain/cursors.py: what a client may send as a cursor, and what reaches a query."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openlinq.domain import cursors
from openlinq.domain.errors import ErrorCode, LinqError

T = TypeVar("T")
MAX_SEQ = 2**63 - 1
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(st.integers(0, MAX_SEQ))
def test_a_sequence_cursor_round_trips(seq: int) -> None:
    assert cursors.decode_seq(cursors.MESSAGES, cursors.encode_seq(cursors.MESSAGES, seq)) == seq


@given(moments, st.integers(0, MAX_SEQ))
def test_a_moment_cursor_round_trips(at: datetime, seq: int) -> None:
    encoded = cursors.encode_moment_seq(cursors.CHATS, at, seq)
    assert cursors.decode_moment_seq(cursors.CHATS, encoded) == (at, seq)
    assert len(encoded) <= cursors.MAX_CURSOR_LENGTH


@given(st.text(max_size=300))
def test_any_text_is_a_cursor_or_a_1005(value: str) -> None:
    """Whatever a client sends decodes to in-range integers or is refused, nothing else."""
    seq = _decoded_or_code(lambda: cursors.decode_seq(cursors.DELIVERIES, value))
    if isinstance(seq, int):
        assert 0 <= seq <= MAX_SEQ
    else:
        assert seq in (None, ErrorCode.INVALID_PARAMETER)
    pair = _decoded_or_code(lambda: cursors.decode_moment_seq(cursors.CHATS, value))
    if isinstance(pair, tuple):
        assert pair[0].tzinfo is UTC
        assert 0 <= pair[1] <= MAX_SEQ
    else:
        assert pair in (None, ErrorCode.INVALID_PARAMETER)


def _decoded_or_code(decode: Callable[[], T]) -> T | ErrorCode:
    try:
        return decode()
    except LinqError as refused:
        return refused.code


@pytest.mark.parametrize("value", [None, ""])
def test_no_cursor_is_the_first_page(value: str | None) -> None:
    assert cursors.decode_seq(cursors.MESSAGES, value) is None
    assert cursors.decode_moment_seq(cursors.CHATS, value) is None


def test_a_cursor_is_only_good_for_its_own_list() -> None:
    encoded = cursors.encode_seq(cursors.THREAD, 5)
    assert cursors.decode_seq(cursors.THREAD, encoded) == 5
    for other in (cursors.THREAD_DESC, cursors.MESSAGES, cursors.DELIVERIES):
        with pytest.raises(LinqError):
            cursors.decode_seq(other, encoded)
