"""The rules of a poll's options: how many, how long, no repeats; and new option records.

Kept apart from domain/polls.py so the send pipeline (messaging.py), which writes a new
poll's options with its message, can use them without importing the poll service.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import MessageId, new_id
from openlinq.domain.models import PollOption

# The contract asks for at least two options and is silent on the rest: these bounds are
# openlinq's (docs/differences.md).
MIN_OPTIONS = 2
MAX_OPTIONS = 12  # per poll, options added later included
MAX_OPTION_TEXT = 300  # characters


def check_options(texts: Sequence[str], existing: Sequence[str] = ()) -> tuple[str, ...]:
    """New option texts, checked against each other and the poll's ``existing`` ones."""
    if not existing and len(texts) < MIN_OPTIONS:
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"a poll needs at least {MIN_OPTIONS} options")
    if existing and not texts:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "give at least one option to add")
    if len(existing) + len(texts) > MAX_OPTIONS:
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"a poll has at most {MAX_OPTIONS} options")
    seen = {t.strip().casefold() for t in existing}
    for text in texts:
        if not text.strip():
            raise LinqError(ErrorCode.INVALID_PARAMETER, "an option's text cannot be blank")
        if len(text) > MAX_OPTION_TEXT:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER,
                f"an option's text is at most {MAX_OPTION_TEXT} characters",
            )
        key = text.strip().casefold()
        if key in seen:
            raise LinqError(ErrorCode.INVALID_PARAMETER, f"option {text!r} is already in the poll")
        seen.add(key)
    return tuple(texts)


def resent_additions(texts: Sequence[str], existing: Sequence[str]) -> tuple[str, ...]:
    """On a zero-retention line the server keeps no option text, so a client adding options
    resends every existing one, in order, before the new ones (contract §5.2): the new ones."""
    if tuple(texts[: len(existing)]) != tuple(existing):
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            "on a zero-retention line, resend every existing option in its original order "
            "followed by the new ones",
        )
    return tuple(texts[len(existing) :])


def new_options(
    poll_message_id: MessageId, texts: Sequence[str], creator: str, first: int, now: datetime
) -> list[PollOption]:
    return [
        PollOption(new_id(), poll_message_id, first + i, text, creator, now)
        for i, text in enumerate(texts)
    ]
