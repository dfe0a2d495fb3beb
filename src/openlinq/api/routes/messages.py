"""/v3/messages: send with automatic line selection, read one, read a thread."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response

from openlinq.api.deps import AccountDep, CallerDep, ServicesDep
from openlinq.api.schemas.actions import (
    AcceptedOut,
    MessageEditIn,
    PlacementPatchIn,
    ReactionIn,
    StickerPlacementOut,
)
from openlinq.api.schemas.features import AppCardUpdateIn, AppCardUpdateOut
from openlinq.api.schemas.messages import (
    MessageCreateIn,
    MessageCreateOut,
    MessageOut,
    MessagePageOut,
)
from openlinq.api.views import (
    message_create_out,
    message_out,
    message_page_out,
    rendered,
    sent_out,
)
from openlinq.domain.app_cards import CardUpdate
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.messaging import request_fingerprint
from openlinq.domain.parts import MAX_IDEMPOTENCY_KEY, build_content
from openlinq.domain.reactions import ReactionRequest
from openlinq.domain.tracing import current_trace_id

router = APIRouter(tags=["messages"])


@router.post("/messages", status_code=202, response_model=MessageCreateOut)
async def create_message(
    body: MessageCreateIn,
    account: AccountDep,
    services: ServicesDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=MAX_IDEMPOTENCY_KEY)
    ] = None,
) -> MessageCreateOut:
    message = body.message.model_dump(exclude_none=True)
    if idempotency_key == "":
        idempotency_key = None  # an empty header is no key (HTTP trims blanks to empty)
    if idempotency_key is not None:
        if message.get("idempotency_key", idempotency_key) != idempotency_key:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER,
                "the Idempotency-Key header and message.idempotency_key differ",
            )
        message["idempotency_key"] = idempotency_key
    result = await services.messaging.create_message(
        account,
        body.to,
        build_content(message, override_optout=bool(body.override_optout)),
        request_fingerprint(
            {"to": sorted(body.to), **body.model_dump(mode="json", exclude={"to"})}
        ),
        continuation_text=body.continuation_message.text if body.continuation_message else None,
        exclude_from=body.exclude_from or [],
    )
    return message_create_out(result, services.links)


@router.get("/messages/{message_id}", response_model=MessageOut)
async def get_message(message_id: str, caller: CallerDep) -> Response:
    services = caller.services
    return rendered(
        message_out(services.links, *await services.messages.get(caller.account, message_id))
    )


@router.get("/messages/{message_id}/thread", response_model=MessagePageOut)
async def get_thread(
    message_id: str,
    caller: CallerDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "asc",
) -> Response:
    page = await caller.services.messages.thread(
        caller.account, message_id, cursor=cursor, limit=limit, ascending=order == "asc"
    )
    return rendered(message_page_out(page, caller.services.links))


@router.patch("/messages/{message_id}", response_model=MessageOut)
async def edit_message(
    message_id: str, body: MessageEditIn, account: AccountDep, services: ServicesDep
) -> MessageOut:
    return message_out(
        services.links, *await services.edits.edit(account, message_id, body.text, body.part_index)
    )


@router.delete("/messages/{message_id}", status_code=204, response_class=Response)
async def delete_message(message_id: str, account: AccountDep, services: ServicesDep) -> Response:
    """Removes the message from the API only; recipients still see it."""
    await services.edits.delete(account, message_id)
    return Response(status_code=204)


@router.post("/messages/{message_id}/reactions", status_code=202, response_model=AcceptedOut)
async def react_to_message(
    message_id: str, body: ReactionIn, account: AccountDep, services: ServicesDep
) -> AcceptedOut:
    await services.reactions.react(
        account,
        message_id,
        ReactionRequest(
            operation=body.operation,
            type=body.type,
            part_index=body.part_index,
            custom_emoji=body.custom_emoji,
            emoji=body.emoji,
            url=body.url,
            attachment_id=body.attachment_id,
            placement=body.placement.model_dump() if body.placement else None,
        ),
    )
    verb = "added" if body.operation == "add" else "removed"
    return AcceptedOut(message=f"Reaction {verb}", status="accepted", trace_id=current_trace_id())


@router.patch("/messages/{message_id}/reactions/{reaction_id}", response_model=StickerPlacementOut)
async def move_sticker(
    message_id: str,
    reaction_id: str,
    body: PlacementPatchIn,
    account: AccountDep,
    services: ServicesDep,
) -> StickerPlacementOut:
    """Move, resize or rotate one of the message's stickers (omitted fields stay)."""
    await services.reactions.move_sticker(
        account, message_id, reaction_id, body.placement.model_dump()
    )
    return StickerPlacementOut(status="updated", success=True, trace_id=current_trace_id())


@router.post("/messages/{message_id}/update", status_code=202, response_model=AppCardUpdateOut)
async def update_app_card(
    message_id: str, body: AppCardUpdateIn, account: AccountDep, services: ServicesDep
) -> AppCardUpdateOut:
    chat_id, content = await services.app_cards.replacement(
        account,
        message_id,
        CardUpdate(
            layout=body.layout.model_dump(),
            url=body.url,
            fallback_text=body.fallback_text,
            interactive=body.interactive,
            app=body.app.model_dump() if body.app else None,
            experience=body.experience.model_dump() if body.experience else None,
        ),
    )
    result = await services.messaging.send_to_chat(
        account, chat_id, content, request_fingerprint(body.model_dump(mode="json"))
    )
    return AppCardUpdateOut(chat_id=result.chat.id, message=sent_out(result, services.links))
