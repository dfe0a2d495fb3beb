"""Recording events: facts appended to the outbox in the transaction of the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openlinq.domain.ids import AccountId, new_id
from openlinq.domain.tracing import current_trace_id
from openlinq.domain.views import jsonable
from openlinq.store.repos import Repos
from openlinq.store.repos.events import StoredEvent


async def record_event(
    repos: Repos,
    account_id: AccountId,
    event_type: str,
    data: dict[str, Any],
    *,
    phone_number: str | None,
    now: datetime,
) -> None:
    """Append one event; ``phone_number`` is the line it originates from (for filters)."""
    await repos.events.append(
        StoredEvent(
            id=new_id(),
            account_id=account_id,
            type=event_type,
            phone_number=phone_number,
            trace_id=current_trace_id(),
            data=jsonable(data),
            created_at=now,
        )
    )
