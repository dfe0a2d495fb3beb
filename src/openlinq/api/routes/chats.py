"""/v3/chats: create, list, read, rename, mark read, and a chat's messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from openlinq.api.deps import AccountDep, CallerDep, ServicesDep, phone_query
from openlinq.api.schemas.actions import AcceptedOut, HandleIn
from openlinq.api.schemas.chats import (
    ChatCreateIn,
    ChatCreateOut,
    ChatOut,
    ChatPageOut,
    ChatUpdateIn,
    ChatUpdateOut,
)
from openlinq.api.schemas.features import (
    LocationOut,
    LocationStopIn,
    SuccessOut,
    VoiceMemoIn,
    VoiceMemoSendOut,
)
from openlinq.api.schemas.messages import MessagePageOut, MessageSendIn, MessageSendOut
from openlinq.api.views import (
    chat_create_out,
    chat_out,
    chat_page_out,
    message_page_out,
    message_send_out,
    rendered,
    voice_memo_out,
)
from openlinq.domain.messaging import request_fingerprint
from openlinq.domain.parts import build_content
from openlinq.domain.tracing import current_trace_id

router = APIRouter(tags=["chats"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("/chats", status_code=201, response_model=ChatCreateOut)
async def create_chat(
    body: ChatCreateIn, account: AccountDep, services: ServicesDep
) -> ChatCreateOut:
    result = await services.messaging.create_chat(
        account,
        body.from_,
        body.to,
        build_content(
            body.message.model_dump(exclude_none=True),
            override_optout=bool(body.override_optout),
        ),
        request_fingerprint(body.model_dump(mode="json", by_alias=True)),
    )
    return chat_create_out(result, services.links)


@router.get("/chats", response_model=ChatPageOut)
async def list_chats(
    caller: CallerDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=32)] = None,
    to: Annotated[str | None, Query(max_length=320)] = None,
    limit: Limit = 20,
) -> Response:
    page = await caller.services.chats.page(
        caller.account,
        from_number=phone_query(from_),
        to=phone_query(to),
        cursor=cursor,
        limit=limit,
    )
    return rendered(chat_page_out(page))


@router.get("/chats/{chat_id}", response_model=ChatOut)
async def get_chat(chat_id: str, caller: CallerDep) -> Response:
    return rendered(chat_out(*await caller.services.chats.get(caller.account, chat_id)))


@router.put("/chats/{chat_id}", status_code=202, response_model=ChatUpdateOut)
async def update_chat(
    chat_id: str, body: ChatUpdateIn, account: AccountDep, services: ServicesDep
) -> ChatUpdateOut:
    chat = await services.chats.update(
        account, chat_id, display_name=body.display_name, group_chat_icon=body.group_chat_icon
    )
    return ChatUpdateOut(chat_id=chat.id, status="accepted")


@router.post("/chats/{chat_id}/read", status_code=204, response_class=Response)
async def mark_chat_read(chat_id: str, account: AccountDep, services: ServicesDep) -> Response:
    await services.chats.mark_read(account, chat_id)
    return Response(status_code=204)


@router.get("/chats/{chat_id}/messages", response_model=MessagePageOut)
async def list_chat_messages(
    chat_id: str,
    caller: CallerDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 20,
) -> Response:
    services = caller.services
    page = await services.messages.list_in_chat(caller.account, chat_id, cursor=cursor, limit=limit)
    return rendered(message_page_out(page, services.links))


@router.post("/chats/{chat_id}/messages", status_code=202, response_model=MessageSendOut)
async def send_message(
    chat_id: str, body: MessageSendIn, account: AccountDep, services: ServicesDep
) -> MessageSendOut:
    result = await services.messaging.send_to_chat(
        account,
        chat_id,
        build_content(
            body.message.model_dump(exclude_none=True),
            override_optout=bool(body.override_optout),
        ),
        request_fingerprint({"chat_id": chat_id, **body.model_dump(mode="json")}),
    )
    return message_send_out(result, services.links)


def _accepted(message: str) -> AcceptedOut:
    return AcceptedOut(message=message, status="accepted", trace_id=current_trace_id())


@router.post("/chats/{chat_id}/participants", status_code=202, response_model=AcceptedOut)
async def add_participant(
    chat_id: str, body: HandleIn, account: AccountDep, services: ServicesDep
) -> AcceptedOut:
    await services.groups.add(account, chat_id, body.handle)
    return _accepted("Participant added")


@router.delete("/chats/{chat_id}/participants", status_code=202, response_model=AcceptedOut)
async def remove_participant(
    chat_id: str, body: HandleIn, account: AccountDep, services: ServicesDep
) -> AcceptedOut:
    await services.groups.remove(account, chat_id, body.handle)
    return _accepted("Participant removed")


@router.delete(
    "/chats/{chat_id}/participants/{handle}", status_code=202, response_model=AcceptedOut
)
async def remove_participant_by_path(
    chat_id: str, handle: str, account: AccountDep, services: ServicesDep
) -> AcceptedOut:
    """The form older clients use: the handle in the path instead of the body."""
    await services.groups.remove(account, chat_id, handle)
    return _accepted("Participant removed")


@router.post("/chats/{chat_id}/leave", status_code=202, response_model=AcceptedOut)
async def leave_chat(chat_id: str, account: AccountDep, services: ServicesDep) -> AcceptedOut:
    await services.groups.leave(account, chat_id)
    return _accepted("Leaving the chat")


@router.post("/chats/{chat_id}/typing", status_code=204, response_class=Response)
async def start_typing(chat_id: str, account: AccountDep, services: ServicesDep) -> Response:
    await services.typing.set(account, chat_id, typing=True)
    return Response(status_code=204)


@router.delete("/chats/{chat_id}/typing", status_code=204, response_class=Response)
async def stop_typing(chat_id: str, account: AccountDep, services: ServicesDep) -> Response:
    await services.typing.set(account, chat_id, typing=False)
    return Response(status_code=204)


@router.post("/chats/{chat_id}/voicememo", status_code=202, response_model=VoiceMemoSendOut)
async def send_voice_memo(
    chat_id: str, body: VoiceMemoIn, account: AccountDep, services: ServicesDep
) -> VoiceMemoSendOut:
    memo = await services.voice_memos.send(
        account,
        chat_id,
        voice_memo_url=body.voice_memo_url,
        attachment_id=body.attachment_id,
        override_optout=bool(body.override_optout),
        fingerprint=request_fingerprint({"voicememo": chat_id, **body.model_dump(mode="json")}),
    )
    return voice_memo_out(memo, services.links)


@router.post("/chats/{chat_id}/share_contact_card", status_code=204, response_class=Response)
async def share_contact_card(chat_id: str, account: AccountDep, services: ServicesDep) -> Response:
    await services.contact_cards.share(account, chat_id)
    return Response(status_code=204)


@router.get("/chats/{chat_id}/location", response_model=LocationOut)
async def get_location(chat_id: str, account: AccountDep, services: ServicesDep) -> LocationOut:
    return LocationOut(success=True, data=await services.locations.retrieve(account, chat_id))


@router.post("/chats/{chat_id}/location/request", status_code=202, response_model=SuccessOut)
async def request_location(chat_id: str, account: AccountDep, services: ServicesDep) -> SuccessOut:
    await services.locations.request(account, chat_id)
    return SuccessOut(success=True, message="Location request sent")


@router.delete("/chats/{chat_id}/location", status_code=202, response_model=SuccessOut)
async def stop_location(
    chat_id: str, body: LocationStopIn, account: AccountDep, services: ServicesDep
) -> SuccessOut:
    await services.locations.stop(account, chat_id, body.handle)
    return SuccessOut(success=True, message="Location sharing stopped")
