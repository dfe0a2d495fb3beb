"""BlueBubbles' webhooks, mapped onto openlinq's inbound path.

The Mac posts ``{"type": ..., "data": ...}`` to ``/carriers/bluebubbles/{line_token}/webhook``
(the per-line token authenticates it). What it says becomes the same recorder calls the
simulator makes, so the partner hears message.received / delivered / read, reactions
and typing exactly as from the simulator. A webhook delivered twice changes nothing:
messages are recognised by their GUID, and receipts only move a message forward.

This module is imported when the server mounts the router, so it imports the carrier
only inside the handler (a server with no BlueBubbles line never loads it).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import MessageId
from openlinq.domain.models import Service

if TYPE_CHECKING:
    from openlinq.delivery.bluebubbles.carrier import BlueBubblesCarrier

log = logging.getLogger(__name__)

router = APIRouter()

# associatedMessageType: names in the server's serializer; Messages' own numbers in older ones.
_TAPBACK_NUMBERS = {
    2000: "love",
    2001: "like",
    2002: "dislike",
    2003: "laugh",
    2004: "emphasize",
    2005: "question",
}
OBJECT_REPLACEMENT = "\ufffc"
_PART_AND_GUID = re.compile(r"^(?:p:(\d+)/|bp:)?(.+)$")


@router.post("/webhook", include_in_schema=False)
async def webhook(line_token: str, request: Request) -> dict[str, bool]:
    from openlinq.delivery.bluebubbles.carrier import BlueBubblesCarrier

    carrier = await request.app.state.services.carriers.inbound("bluebubbles", line_token)
    assert isinstance(carrier, BlueBubblesCarrier), "the registry returns this line's carrier"
    try:
        event = await request.json()
    except ValueError:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "the webhook body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise LinqError(ErrorCode.INVALID_PARAMETER, "a BlueBubbles webhook has a type and data")
    await handle_event(carrier, event)
    return {"ok": True}


async def handle_event(carrier: BlueBubblesCarrier, event: dict[str, Any]) -> None:
    kind, data = event.get("type"), event.get("data")
    if not isinstance(data, dict):
        return
    if kind == "new-message":
        await _new_message(carrier, data)
    elif kind in ("updated-message", "message-send-error"):
        await _updated_message(carrier, data)
    elif kind == "typing-indicator":
        await _typing(carrier, data)
    elif kind == "chat-read-status-changed":
        await _line_read(carrier, data)
    elif kind in GROUP_EVENTS:
        await _group_change(carrier, str(kind), data)
    else:
        log.debug("line %s: BlueBubbles event %s ignored", carrier.phone_number, kind)


# The group changes Messages reports (a member's own, or made on the Mac itself).
GROUP_EVENTS = frozenset(
    {
        "group-name-change",
        "participant-added",
        "participant-removed",
        "participant-left",
        "group-icon-changed",
        "group-icon-removed",
    }
)


async def _line_read(carrier: BlueBubblesCarrier, data: dict[str, Any]) -> None:
    """The Mac's own read state: the line's user read the chat there (or openlinq's
    mark-read came back). Its inbound messages become read; an "unread" changes nothing."""
    chat_ref = data.get("chatGuid")
    if not isinstance(chat_ref, str) or data.get("read") is not True:
        return
    sender = chat_ref.split(";-;", 1)[1] if ";-;" in chat_ref else ""
    chat_id = await carrier.chat_for(chat_ref, sender)
    if chat_id is not None:
        await carrier.recorder.line_read(carrier.account_id, chat_id)


async def _group_change(carrier: BlueBubblesCarrier, kind: str, data: dict[str, Any]) -> None:
    """A group's name or members changed on a phone: the partner hears the same events as
    for a change made through the API. Messages names the member added or removed by a
    row number of its own (``otherHandle``), so who joined or went is read from the
    group's participants as the Mac lists them now."""
    chat_ref = _chat_guid(data)
    if chat_ref is None or ";+;" not in chat_ref:
        return
    chat_id = await carrier.chat_for(chat_ref, "")
    if chat_id is None:
        log.info("line %s: %s in a group openlinq does not know", carrier.phone_number, kind)
        return
    actor = None if data.get("isFromMe") else _sender(data)
    recorder, account_id = carrier.recorder, carrier.account_id
    if kind == "group-name-change":
        name = data.get("groupTitle")
        if isinstance(name, str) and name:
            await recorder.inbound_group_renamed(account_id, chat_id, actor, name)
        return
    if kind.startswith("group-icon-"):
        # Only a member's: the line's own change (through the API, or on the Mac) carries no
        # image openlinq could compare, and an API change was announced when it was made.
        if actor is not None:
            icon = await carrier.fetch_group_icon(chat_ref) if kind.endswith("changed") else None
            if icon is not None or kind.endswith("removed"):
                await recorder.inbound_group_icon(account_id, chat_id, actor, icon)
        return
    if kind == "participant-left" and actor is not None:
        await recorder.inbound_member_gone(account_id, chat_id, actor, left=True)
        return
    present = await carrier.participants(chat_ref, data)
    if present is None:
        return
    async with carrier.storage.read() as repos:
        chat = await repos.chats.get(account_id, chat_id)
    members = {h.handle for h in chat.recipients} if chat else set()
    if kind == "participant-added":
        for handle in sorted(present - members):
            await recorder.inbound_member_joined(account_id, chat_id, handle)
        return
    for handle in sorted(members - present):
        await recorder.inbound_member_gone(
            account_id, chat_id, handle, left=kind == "participant-left"
        )


def _sender(data: dict[str, Any]) -> str | None:
    handle = data.get("handle")
    address = handle.get("address") if isinstance(handle, dict) else None
    return address if isinstance(address, str) and address else None


def _chat_guid(data: dict[str, Any]) -> str | None:
    chats = data.get("chats")
    if isinstance(chats, list) and chats and isinstance(chats[0], dict):
        guid = chats[0].get("guid")
        return guid if isinstance(guid, str) else None
    return None


async def _new_message(carrier: BlueBubblesCarrier, data: dict[str, Any]) -> None:
    guid, sender = data.get("guid"), _sender(data)
    if data.get("isFromMe") or not isinstance(guid, str) or sender is None:
        return  # our own sends are recorded when the Mac accepts them
    if await carrier.message_for(guid) is not None:
        return  # delivered twice
    if data.get("associatedMessageGuid"):
        await _tapback(carrier, data, sender)
        return
    parts = await _parts(carrier, data)
    if not parts:
        log.info("line %s: message %s has no content; not recorded", carrier.phone_number, guid)
        return
    chat_ref = _chat_guid(data) or f"iMessage;-;{sender}"
    service = Service.SMS if chat_ref.startswith("SMS;") else Service.IMESSAGE
    chat_id = None
    if ";+;" in chat_ref:
        chat_id = await carrier.chat_for(chat_ref, sender)
        if chat_id is None:
            # A group this line was added to elsewhere: recording it as a direct chat would
            # send the agent's answer to one member privately.
            log.info(
                "line %s: message in an unknown group %s not recorded", carrier.phone_number, guid
            )
            return
    reply_to = await _reply_target(carrier, data)
    message = await carrier.recorder.inbound_message(
        carrier.account_id,
        carrier.phone_number,
        sender,
        parts,
        service,
        chat_id=chat_id,
        reply_to=reply_to,
    )
    if message is not None:
        async with carrier.storage.write() as repos:
            await carrier.remember(repos, message.id, guid, message.chat_id, chat_ref)


async def _parts(carrier: BlueBubblesCarrier, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's text, then its files, fetched from the Mac into openlinq's attachment
    store so the partner downloads them from openlinq like any received media."""
    # Messages puts U+FFFC in the text where each attachment sits.
    text = str(data.get("text") or "").replace(OBJECT_REPLACEMENT, "").strip()
    parts: list[dict[str, Any]] = [{"type": "text", "value": text}] if text else []
    files = data.get("attachments")
    for file in files if isinstance(files, list) else []:
        guid = file.get("guid") if isinstance(file, dict) else None
        if isinstance(guid, str) and guid:
            part = await carrier.fetch_attachment(guid, file)
            if part is not None:
                parts.append(part)
    return parts


async def _reply_target(carrier: BlueBubblesCarrier, data: dict[str, Any]) -> MessageId | None:
    origin = data.get("threadOriginatorGuid")
    if not isinstance(origin, str) or not origin:
        return None
    return await carrier.message_for(origin)


async def _tapback(carrier: BlueBubblesCarrier, data: dict[str, Any], sender: str) -> None:
    raw_type = data.get("associatedMessageType")
    if isinstance(raw_type, int):
        remove = raw_type >= 3000
        name = _TAPBACK_NUMBERS.get(raw_type - 1000 if remove else raw_type)
    elif isinstance(raw_type, str):
        remove = raw_type.startswith("-")
        name = raw_type.lstrip("-")
    else:
        return
    match = _PART_AND_GUID.match(str(data["associatedMessageGuid"]))
    if name is None or match is None:
        return
    part = int(match.group(1) or 0)
    target = await carrier.message_for(match.group(2))
    if target is None:
        log.info("line %s: tapback on a message openlinq does not know", carrier.phone_number)
        return
    async with carrier.storage.read() as repos:
        reactions = (await repos.messages.reactions_for([target])).get(target, [])
    present = any(r.handle == sender and r.part_index == part and r.type == name for r in reactions)
    if present != remove:
        return  # already recorded (a webhook delivered twice): nothing changes
    await carrier.recorder.inbound_reaction(
        carrier.account_id,
        target,
        sender,
        name,
        part_index=part,
        remove=remove,
    )


async def _updated_message(carrier: BlueBubblesCarrier, data: dict[str, Any]) -> None:
    """Delivered / read receipts of our own messages, or Messages giving up on one."""
    guid = data.get("guid")
    if not data.get("isFromMe") or not isinstance(guid, str):
        return
    message_id = await carrier.message_for(guid)
    if message_id is None:
        return
    error = data.get("error")
    if isinstance(error, int) and error != 0:
        # Failed after the Mac accepted it (an AppleScript send, a handle not on iMessage).
        await carrier.recorder.failed(
            message_id, ErrorCode.PHONE_NOT_AVAILABLE, f"Messages could not send it (error {error})"
        )
        return
    if data.get("dateDelivered") or data.get("isDelivered"):
        await carrier.recorder.delivered(message_id)
    if data.get("dateRead"):
        await carrier.recorder.read(message_id)


async def _typing(carrier: BlueBubblesCarrier, data: dict[str, Any]) -> None:
    chat_ref = data.get("guid")
    if not isinstance(chat_ref, str) or ";-;" not in chat_ref:
        return  # Messages reports typing in one-to-one chats only
    sender = chat_ref.split(";-;", 1)[1]
    chat_id = await carrier.chat_for(chat_ref, sender)
    if chat_id is None:
        return
    await carrier.recorder.inbound_typing(
        carrier.account_id, chat_id, sender, bool(data.get("display"))
    )
