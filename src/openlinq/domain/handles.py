"""Handles: an E.164 phone number or an email (to block: also short codes, sender IDs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from openlinq.domain.errors import ErrorCode, LinqError

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
# An alphanumeric sender ID: letters and digits, at least one letter, at most 11 (GSM's limit).
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
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


def parse_blockable(raw: str, field: str = "handle") -> str:
    """A handle as the block list keeps it: E.164, a lower-cased email, an SMS short code
    (3-8 digits) or an alphanumeric sender ID (kept as written)."""
    value = raw.strip() if isinstance(raw, str) else ""
    if _SHORT_CODE.match(value) or _SENDER_ID.match(value):
        return value
    if not value:
        raise LinqError(ErrorCode.MISSING_REQUIRED_FIELD, f"{field} is required")
    if "@" in value or value.startswith("+") or value.isdigit():
        return parse_handle(value, field).value  # a long number without "+": not E.164
    raise LinqError(
        ErrorCode.INVALID_PARAMETER,
        f"{field} {raw!r} is not an E.164 number, an email, a short code or a sender ID",
    )


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
