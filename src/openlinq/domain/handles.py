"""Handles: an E.164 phone number or an email address."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from openlinq.domain.errors import ErrorCode, LinqError

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254


class HandleKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Handle:
    value: str
    kind: HandleKind


def parse_phone(raw: str, field: str = "phone number") -> str:
    """Return ``raw`` if it is a plausible E.164 number, else raise 1002.

    E.164 is enforced literally (no spaces or punctuation, leading ``+``), and
    ``phonenumbers`` checks that the digits form a possible number for their
    country code. Fictional ranges such as 555 are accepted, as developers use them.
    """
    value = raw.strip() if isinstance(raw, str) else raw
    if not isinstance(value, str) or not _E164.match(value):
        raise LinqError(
            ErrorCode.INVALID_PHONE_NUMBER,
            f"{field} must be in E.164 format (e.g. +14155551234), got {raw!r}",
        )
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise LinqError(ErrorCode.INVALID_PHONE_NUMBER, f"{field} {raw!r}: {exc}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise LinqError(
            ErrorCode.INVALID_PHONE_NUMBER, f"{field} {raw!r} is not a possible phone number"
        )
    return value


def parse_handle(raw: str, field: str = "handle", *, allow_email: bool = True) -> Handle:
    """Parse a recipient handle; emails are lower-cased, phones must be E.164."""
    value = raw.strip() if isinstance(raw, str) else ""
    if "@" in value:
        if not allow_email:
            raise LinqError(
                ErrorCode.INVALID_PHONE_NUMBER, f"{field} must be an E.164 phone number"
            )
        if len(value) > MAX_EMAIL_LENGTH or not _EMAIL.match(value):
            raise LinqError(ErrorCode.INVALID_PARAMETER, f"{field} {raw!r} is not a valid email")
        return Handle(value.lower(), HandleKind.EMAIL)
    return Handle(parse_phone(value, field), HandleKind.PHONE)


def parse_recipients(raw: list[str], field: str = "to") -> list[Handle]:
    """Parse a recipient list into a de-duplicated, order-preserving list."""
    if not raw:
        raise LinqError(ErrorCode.MISSING_REQUIRED_FIELD, f"{field} needs at least one handle")
    seen: dict[str, Handle] = {}
    for index, item in enumerate(raw):
        handle = parse_handle(item, f"{field}[{index}]")
        seen.setdefault(handle.value, handle)
    return list(seen.values())


def recipient_key(handles: list[str]) -> str:
    """The order-independent identity of a recipient set (chat reuse is keyed on it)."""
    return ",".join(sorted(set(handles)))
