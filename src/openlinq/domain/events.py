"""Recording events: facts appended to the outbox in the transaction of the change.

Sinks (the webhook fan-out) see each event inside that same transaction, so an
event and the work it causes commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from openlinq.domain.ids import AccountId, new_id
from openlinq.domain.tracing import current_trace_id
from openlinq.domain.views import jsonable
from openlinq.store.repos import Repos
from openlinq.store.repos.events import StoredEvent


class EventSink(Protocol):
    async def on_event(self, repos: Repos, event: StoredEvent) -> None: ...


class EventLog:
    def __init__(self) -> None:
        self._sinks: list[EventSink] = []

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    async def record(
        self,
        repos: Repos,
        account_id: AccountId,
        event_type: str,
        data: dict[str, Any],
        *,
        phone_number: str | None,
        now: datetime,
    ) -> StoredEvent:
        """Append one event; ``phone_number`` is the line it originates from (for filters)."""
        event = StoredEvent(
            id=new_id(),
            account_id=account_id,
            type=event_type,
            phone_number=phone_number,
            trace_id=current_trace_id(),
            data=jsonable(data),
            created_at=now,
        )
        await repos.events.append(event)
        for sink in self._sinks:
            await sink.on_event(repos, event)
        return event
