"""The test harness over HTTP: test accounts, settle, wait for the agent's next message.

What openlinq's pytest plugin uses, so tests in any language can do the same.
Creating an account is operator-level: open in local mode, and in hosted mode
mounted only behind the operator key (X-Operator-Key), like the simulator.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.harness import (
    HarnessAccountIn,
    HarnessAccountOut,
    HarnessLineOut,
    NextMessageOut,
    SettleIn,
    SettleOut,
)
from openlinq.api.views import screen_message_out
from openlinq.delivery.simulator.control import ScreenItem
from openlinq.delivery.simulator.harness import message_text
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.models import LineType

# Needs no account: it makes one.
accounts_router = APIRouter(prefix="/sim/v1", tags=["test harness"])
router = APIRouter(prefix="/sim/v1", tags=["test harness"])

# A long poll holds a connection: bounded, so a forgotten client cannot hold it for long.
MAX_WAIT_SECONDS = 30.0


@accounts_router.post("/accounts", status_code=201, response_model=HarnessAccountOut)
async def create_test_account(body: HarnessAccountIn, services: ServicesDep) -> HarnessAccountOut:
    """A fresh account with its own API key and lines on fresh numbers."""
    created = await services.harness.create_test_account(
        body.name, [LineType(t) for t in body.lines]
    )
    return HarnessAccountOut(
        account_id=created.account.id,
        api_key=created.api_key,
        base_url=f"{services.settings.base_url}/api/partner",
        lines=[
            HarnessLineOut(id=line.id, phone_number=line.phone_number, type=line.line_type.value)
            for line in created.lines
        ],
    )


@router.post("/settle", response_model=SettleOut)
async def settle(
    account: AccountDep, services: ServicesDep, body: SettleIn | None = None
) -> SettleOut:
    """Run every due job and deliver every webhook; on a manual clock, move it to each
    next pending job in turn, until nothing is queued within ``max_seconds``."""
    settled = await services.harness.settle((body or SettleIn()).max_seconds)
    return SettleOut(
        jobs_run=settled.jobs_run,
        advanced_seconds=settled.advanced_seconds,
        pending=settled.pending,
    )


@router.get("/devices/{handle}/next-message", response_model=NextMessageOut)
async def next_message(
    handle: str,
    account: AccountDep,
    services: ServicesDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
    matching: Annotated[str | None, Query(max_length=1000)] = None,
    wait_seconds: Annotated[float, Query(alias="timeout", ge=0, le=MAX_WAIT_SECONDS)] = 10.0,
) -> NextMessageOut:
    """Long poll: the next message the account sends to ``handle`` after message ``after``
    whose text matches the regular expression ``matching``; ``message: null`` on timeout."""
    try:
        pattern = re.compile(matching) if matching is not None else None
    except re.error as exc:
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"matching is not a regex: {exc}") from exc
    found = await services.harness.next_outbound(
        account, handle, after=after, matching=pattern, wait_seconds=wait_seconds
    )
    if found is None:
        return NextMessageOut(message=None)
    item = ScreenItem(found, "received", [], [])
    return NextMessageOut(message=screen_message_out(item), text=message_text(found))
