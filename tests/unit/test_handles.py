"""Handles: E.164 phone numbers and email addresses, and recipient sets."""

from __future__ import annotations

import pytest

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.handles import (
    HandleKind,
    parse_handle,
    parse_phone,
    parse_recipients,
    recipient_key,
)


def _refusal(raw: str, *, allow_email: bool = True) -> LinqError:
    with pytest.raises(LinqError) as refused:
        parse_handle(raw, allow_email=allow_email)
    return refused.value


@pytest.mark.parametrize(
    "number",
    [
        "+14155551234",
        "+14155550105",  # a simulator magic number
        "+15555555555",  # fictional 555 area code and exchange
        "+12125550199",
        "+447700900123",  # UK drama range
        "+33612345678",
        "+8613812345678",
    ],
)
def test_e164_numbers_are_accepted_as_given(number: str) -> None:
    handle = parse_handle(number)
    assert (handle.value, handle.kind) == (number, HandleKind.PHONE)
    assert parse_phone(number) == number


def test_surrounding_whitespace_is_trimmed() -> None:
    assert parse_handle("  +14155551234\n").value == "+14155551234"


@pytest.mark.parametrize(
    "raw",
    [
        "+1 415 555 1234",  # spaces
        "+1-415-555-1234",  # dashes
        "+1 (415) 555-1234",
        "+1.415.555.1234",
        "14155551234",  # no plus
        "4155551234",
        "+04155551234",  # country codes never start with 0
        "+1415555123",  # one digit short for North America
        "+141555512345",  # one digit long for North America
        "+12345",  # too short for any country
        "+1234567890123456",  # longer than E.164's 15 digits
        "+1415555abcd",
        "+",
        "",
    ],
)
def test_non_e164_phone_numbers_are_refused_with_1002(raw: str) -> None:
    error = _refusal(raw)
    assert error.code is ErrorCode.INVALID_PHONE_NUMBER
    assert (error.code.code, error.http_status) == (1002, 400)


def test_the_refusal_names_the_field() -> None:
    with pytest.raises(LinqError) as refused:
        parse_phone("+1 415 555 1234", "from")
    assert refused.value.message.startswith("from must be in E.164 format")


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("ada@example.com", "ada@example.com"),
        ("Ada.Lovelace@Example.COM", "ada.lovelace@example.com"),
        ("  GRACE@navy.mil ", "grace@navy.mil"),
        ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
    ],
)
def test_emails_are_lower_cased(raw: str, value: str) -> None:
    handle = parse_handle(raw)
    assert (handle.value, handle.kind) == (value, HandleKind.EMAIL)


@pytest.mark.parametrize(
    "raw",
    ["a@b", "@example.com", "ada@", "ada@@example.com", "ada lovelace@example.com"],
)
def test_malformed_emails_are_refused_with_1005(raw: str) -> None:
    assert _refusal(raw).code is ErrorCode.INVALID_PARAMETER


def test_emails_longer_than_254_characters_are_refused() -> None:
    fits = "a" * 64 + "@" + "b" * 185 + ".com"
    assert len(fits) == 254
    assert parse_handle(fits).kind is HandleKind.EMAIL
    assert _refusal("a" + fits).code is ErrorCode.INVALID_PARAMETER


def test_an_email_where_only_phones_are_allowed_is_a_phone_number_error() -> None:
    assert _refusal("ada@example.com", allow_email=False).code is ErrorCode.INVALID_PHONE_NUMBER


def test_recipients_are_deduplicated_in_first_seen_order() -> None:
    parsed = parse_recipients(
        ["+14155550002", "Ada@Example.com", "+14155550001", " +14155550002", "ada@example.com"]
    )
    assert [h.value for h in parsed] == ["+14155550002", "ada@example.com", "+14155550001"]
    assert [h.kind for h in parsed] == [HandleKind.PHONE, HandleKind.EMAIL, HandleKind.PHONE]


def test_an_empty_recipient_list_is_a_missing_field() -> None:
    with pytest.raises(LinqError) as refused:
        parse_recipients([])
    assert refused.value.code is ErrorCode.MISSING_REQUIRED_FIELD


def test_a_bad_recipient_is_named_by_its_index() -> None:
    with pytest.raises(LinqError) as refused:
        parse_recipients(["+14155550001", "+1 415 555 0002"], field="to")
    assert refused.value.code is ErrorCode.INVALID_PHONE_NUMBER
    assert refused.value.message.startswith("to[1] ")


@pytest.mark.parametrize(
    "ordering",
    [
        ["+14155550001", "+14155550002", "ada@example.com"],
        ["ada@example.com", "+14155550002", "+14155550001"],
        ["+14155550002", "ada@example.com", "+14155550001", "+14155550002"],
    ],
)
def test_recipient_key_ignores_order_and_repeats(ordering: list[str]) -> None:
    assert recipient_key(ordering) == "+14155550001,+14155550002,ada@example.com"


def test_recipient_key_tells_different_sets_apart() -> None:
    assert recipient_key(["+14155550001"]) != recipient_key(["+14155550001", "+14155550002"])
