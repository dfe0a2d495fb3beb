"""/v3/chats/{chatId}/background: set or remove a chat's background (asynchronous)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from openlinq.api.deps import AccountDep, ServicesDep
from openlinq.api.schemas.backgrounds import BackgroundIn

router = APIRouter(tags=["chats"])


@router.post("/chats/{chat_id}/background", status_code=202, response_class=Response)
async def set_background(
    chat_id: str, body: BackgroundIn, account: AccountDep, services: ServicesDep
) -> Response:
    """Accepted; chat.background_updated or chat.background_update_failed follows."""
    await services.backgrounds.set(account, chat_id, body.request(body.type))
    return Response(status_code=202)


@router.delete("/chats/{chat_id}/background", status_code=202, response_class=Response)
async def remove_background(chat_id: str, account: AccountDep, services: ServicesDep) -> Response:
    await services.backgrounds.remove(account, chat_id)
    return Response(status_code=202)
