"""Property-based tests: no input makes handle parsing or content validation misbehave."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.handles import parse_handle, parse_phone, recipient_key
from openlinq.domain.parts import MAX_PARTS, SOLO_PART_TYPES, build_content

T = TypeVar("T")

CONTENT_CODES = {
    ErrorCode.MISSING_REQUIRED_FIELD,
    ErrorCode.INVALID_MESSAGE_CONTENT,
    ErrorCode.INVALID_PARAMETER,
    ErrorCode.INVALID_FILE_TYPE,
    ErrorCode.MESSAGE_NOT_FOUND,
    ErrorCode.FEATURE_NOT_AVAILABLE,
}

us_numbers = st.builds(
    lambda npa, rest: f"+1{npa}{rest}",
    st.integers(200, 999).map(str),
    st.integers(2_000_000, 9_999_999).map(str),
)


@given(us_numbers)
def test_us_numbers_are_accepted_unchanged(number: str) -> None:
    assert parse_phone(number) == number
    assert parse_handle(number).value == number


def _attempt(fn: Callable[[], T]) -> T | LinqError:
    """The result, or the LinqError raised (anything else propagates and fails the test)."""
    try:
        return fn()
    except LinqError as error:
        return error


@given(st.text(max_size=40))
def test_any_text_is_a_handle_or_a_clean_error(raw: str) -> None:
    outcome = _attempt(lambda: parse_handle(raw))
    if isinstance(outcome, LinqError):
        assert outcome.code in (ErrorCode.INVALID_PHONE_NUMBER, ErrorCode.INVALID_PARAMETER)
    else:
        assert outcome.value == outcome.value.strip()
        assert outcome.value.startswith("+") or "@" in outcome.value


@given(st.lists(st.one_of(us_numbers, st.emails()), min_size=1, max_size=8))
def test_recipient_key_ignores_order_and_duplicates(handles: list[str]) -> None:
    assert recipient_key(handles) == recipient_key(list(reversed(handles)) + handles[:1])


text_parts = st.builds(
    lambda value: {"type": "text", "value": value}, st.text(min_size=0, max_size=30)
)
link_parts = st.builds(
    lambda host: {"type": "link", "value": f"https://{host}.example/x"},
    st.text("abcdefgh", min_size=1, max_size=8),
)
media_parts = st.builds(
    lambda name, ext: {"type": "media", "url": f"https://cdn.example/{name}.{ext}"},
    st.text("abc", min_size=1, max_size=5),
    st.sampled_from(["png", "jpg", "pdf", "exe", "mp4", "zzz"]),
)
odd_parts = st.fixed_dictionaries(
    {"type": st.sampled_from(["poll", "sticker"]), "value": st.text(max_size=5)}
)
parts = st.lists(st.one_of(text_parts, link_parts, media_parts, odd_parts), max_size=110)


@settings(max_examples=300)
@given(parts, st.none() | st.fixed_dictionaries({"name": st.sampled_from(["slam", "nope"])}))
def test_content_is_valid_or_refused_with_a_content_code(
    raw_parts: list[dict[str, Any]], effect: dict[str, Any] | None
) -> None:
    message: dict[str, Any] = {"parts": raw_parts}
    if effect is not None:
        message["effect"] = effect
    outcome = _attempt(lambda: build_content(message))
    if isinstance(outcome, LinqError):
        assert outcome.code in CONTENT_CODES
        return
    kinds = [p["type"] for p in outcome.parts]
    assert 1 <= len(kinds) <= MAX_PARTS
    assert not any(a == b == "text" for a, b in itertools.pairwise(kinds))
    assert not (set(kinds) & SOLO_PART_TYPES) or len(kinds) == 1
