"""Requests and replies of the poll endpoints (contract §5.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from openlinq.api.schemas.common import ChatHandleOut, ReactionOut, RequestModel, WireModel
from openlinq.domain.parts import MAX_IDEMPOTENCY_KEY

# Generous wire bounds; the poll rules (domain/poll_options.py) give the real limits and
# their error messages.
OptionText = Annotated[str, Field(max_length=10_000)]


class PollOptionIn(RequestModel):
    text: OptionText


class PollContentIn(RequestModel):
    options: list[PollOptionIn] = Field(max_length=1_000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY)


class PollCreateIn(RequestModel):
    poll: PollContentIn


class PollAddOptionsIn(RequestModel):
    options: list[PollOptionIn] = Field(max_length=1_000)


class PollVoteIn(RequestModel):
    operation: Literal["add", "remove"]
    option_id: str = Field(min_length=1, max_length=64)


class OptionVoterOut(WireModel):
    handle: str
    voted_at: datetime


class PollOptionOut(WireModel):
    option_id: str
    text: str
    can_be_edited: bool
    creator_handle: ChatHandleOut
    voters: list[OptionVoterOut]


class PollOut(WireModel):
    options: list[PollOptionOut]
    total_voters: int


class PollEnvelopeOut(WireModel):
    chat_id: str
    message_id: str
    created_at: datetime
    updated_at: datetime
    poll: PollOut
    reactions: list[ReactionOut]
