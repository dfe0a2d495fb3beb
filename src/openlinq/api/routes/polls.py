"""Polls: create one in a chat, read its results, add options, vote (contract §5.2)."""

from __future__ import annotations

from fastapi import APIRouter

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.polls import (
    PollAddOptionsIn,
    PollCreateIn,
    PollEnvelopeOut,
    PollVoteIn,
)
from openlinq.domain.messaging import request_fingerprint

router = APIRouter(tags=["polls"])


@router.post("/chats/{chat_id}/polls", status_code=202, response_model=PollEnvelopeOut)
async def create_poll(
    chat_id: str, body: PollCreateIn, account: AccountDep, services: ServicesDep
) -> PollEnvelopeOut:
    """Send an iMessage poll into an existing chat (queued like a send: poll.sent follows)."""
    envelope = await services.polls.create(
        account,
        chat_id,
        [o.text for o in body.poll.options],
        body.poll.idempotency_key,
        request_fingerprint({"poll_in": chat_id, **body.model_dump(mode="json")}),
    )
    return PollEnvelopeOut.model_validate(envelope)


@router.get("/messages/{message_id}/poll", response_model=PollEnvelopeOut)
async def get_poll(message_id: str, account: AccountDep, services: ServicesDep) -> PollEnvelopeOut:
    return PollEnvelopeOut.model_validate(await services.polls.retrieve(account, message_id))


@router.post("/messages/{message_id}/poll/options", response_model=PollEnvelopeOut)
async def add_poll_options(
    message_id: str, body: PollAddOptionsIn, account: AccountDep, services: ServicesDep
) -> PollEnvelopeOut:
    envelope = await services.polls.add_options(account, message_id, [o.text for o in body.options])
    return PollEnvelopeOut.model_validate(envelope)


@router.post("/messages/{message_id}/poll/votes", response_model=PollEnvelopeOut)
async def vote_in_poll(
    message_id: str, body: PollVoteIn, account: AccountDep, services: ServicesDep
) -> PollEnvelopeOut:
    """Toggle your line's vote on one option."""
    envelope = await services.polls.vote(account, message_id, body.operation, body.option_id)
    return PollEnvelopeOut.model_validate(envelope)
