"""/v3/blocked_handles: handles the account no longer sends to or hears from."""

from __future__ import annotations

from fastapi import APIRouter, Response

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.blocked import (
    BlockedHandleOut,
    BlockedListOut,
    BlockIn,
    BlockOut,
    UnblockIn,
)
from openlinq.store.repos.blocked import BlockedHandle

router = APIRouter(tags=["blocked handles"])


def _entry_out(entry: BlockedHandle) -> BlockedHandleOut:
    return BlockedHandleOut(handle=entry.handle, blocked_at=entry.blocked_at, reason=entry.reason)


@router.get("/blocked_handles", response_model=BlockedListOut)
async def list_blocked_handles(account: AccountDep, services: ServicesDep) -> BlockedListOut:
    entries = await services.blocking.entries(account)
    return BlockedListOut(blocked_handles=[_entry_out(e) for e in entries])


@router.post("/blocked_handles", status_code=201, response_model=BlockOut)
async def block_handle(
    body: BlockIn, response: Response, account: AccountDep, services: ServicesDep
) -> BlockOut:
    """201 for a new block; blocking again answers 200 with the existing entry."""
    entry, created = await services.blocking.block(account, body.handle, body.reason)
    if not created:
        response.status_code = 200
    return BlockOut(blocked_handle=_entry_out(entry))


@router.delete("/blocked_handles", status_code=204, response_class=Response)
async def unblock_handle(body: UnblockIn, account: AccountDep, services: ServicesDep) -> Response:
    await services.blocking.unblock(account, body.handle)
    return Response(status_code=204)
