"""Durable hand-off of chat actions (reactions, edits, typing, group changes) to the carrier."""

from __future__ import annotations

import logging
from typing import Any

from openlinq.delivery.carrier import ACTION_KINDS, Carrier, CarrierRejectedError, ChatAction
from openlinq.domain.ids import AccountId, ChatId
from openlinq.domain.models import Chat, Line, Service
from openlinq.jobs.runner import JobQueue
from openlinq.store.repos import Repos

log = logging.getLogger(__name__)

ACTION_JOB = "carrier.action"


class CarrierActions:
    def __init__(self, queue: JobQueue, carrier: Carrier) -> None:
        self.queue = queue
        self.carrier = carrier

    async def schedule(
        self, repos: Repos, chat: Chat, line: Line, kind: str, data: dict[str, Any]
    ) -> None:
        """Queue ``kind`` for the chat's current recipients, in the caller's transaction.

        What the line's carrier reports it cannot carry (2011 / 4005) is refused here, so
        the caller's transaction (its rows, its events) is rolled back, not committed and
        dropped later."""
        if kind not in ACTION_KINDS:
            raise ValueError(f"unknown chat action {kind!r}")
        refused = await self.carrier.refusal(repos, line.phone_number, kind, data)
        if refused is not None:
            raise refused
        await self.queue.schedule(
            repos,
            ACTION_JOB,
            {
                "kind": kind,
                "account_id": chat.account_id,
                "chat_id": chat.id,
                "from_number": line.phone_number,
                "recipients": [h.handle for h in chat.recipients],
                "service": chat.service.value,
                "data": data,
            },
        )

    async def run(self, payload: dict[str, Any]) -> None:
        action = ChatAction(
            kind=payload["kind"],
            account_id=AccountId(payload["account_id"]),
            chat_id=ChatId(payload["chat_id"]),
            from_number=payload["from_number"],
            recipients=tuple(payload["recipients"]),
            service=Service(payload["service"]),
            data=payload["data"],
        )
        try:
            await self.carrier.perform(action)
        except CarrierRejectedError as rejected:
            log.warning(
                "line %s: carrier dropped %s in chat %s: %s",
                action.from_number,
                action.kind,
                action.chat_id,
                rejected.reason,
            )
