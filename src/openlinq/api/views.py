"""Domain records to response models: the only place the edge builds wire objects."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from openlinq.api.schemas.chats import ChatCreateOut, ChatOut, ChatPageOut
from openlinq.api.schemas.common import PartOut
from openlinq.api.schemas.features import ContactCardOut, VoiceMemoSendOut
from openlinq.api.schemas.lines import PhoneNumberOut
from openlinq.api.schemas.messages import (
    MessageCreateOut,
    MessageOut,
    MessagePageOut,
    MessageSendOut,
    SentMessageOut,
)
from openlinq.api.schemas.simulator import ScreenMessageOut
from openlinq.api.schemas.webhooks import AttemptOut, DeliveryOut, SubscriptionOut
from openlinq.delivery.simulator.control import ScreenItem
from openlinq.domain.chats import ChatPage
from openlinq.domain.links import Links
from openlinq.domain.messages import MessagePage
from openlinq.domain.messaging import SendResult
from openlinq.domain.models import Chat, Line, Message, Reaction
from openlinq.domain.views import (
    REPUTATION_DOC_URL,
    chat_view,
    display_name,
    handle_view,
    health_view,
    jsonable,
    message_view,
    sent_message_view,
    unrenderable_part,
)
from openlinq.domain.voice_memos import VoiceMemo
from openlinq.store.repos.cards import ContactCard
from openlinq.store.repos.webhooks import Attempt, Delivery, Subscription
from openlinq.webhooks.dispatch import DEFAULT_ROUTING_ID_HEADER

log = logging.getLogger(__name__)
_PART = TypeAdapter(PartOut)


def rendered(model: BaseModel) -> Response:
    """``model`` as FastAPI answers it for a route whose ``response_model`` is the model's
    class (the same bytes), without FastAPI validating the model we just built a second
    time. For the hot reads; the route keeps its ``response_model`` for the schema."""
    return Response(
        model.__pydantic_serializer__.to_json(model, by_alias=True),
        media_type="application/json",
    )


def _checked_parts(view: dict[str, Any]) -> dict[str, Any]:
    """Each part checked against its wire shape on its own: a stored part of the wrong
    shape is shown empty (and logged) instead of failing the response it is in."""
    parts: list[Any] = []
    for index, part in enumerate(view.get("parts") or []):
        try:
            parts.append(_PART.validate_python(part))
        except ValidationError as exc:
            neutral = unrenderable_part(view["id"], index, f"{exc.error_count()} wire errors")
            parts.append(_PART.validate_python(neutral))
    return {**view, "parts": parts}


def chat_out(chat: Chat, line: Line) -> ChatOut:
    return ChatOut.model_validate(chat_view(chat, line))


def chat_page_out(page: ChatPage) -> ChatPageOut:
    chats: list[ChatOut] = []
    for chat, line in page.chats:
        try:
            chats.append(chat_out(chat, line))
        except ValidationError as exc:  # one bad row must not take the whole list down
            log.warning("chat %s cannot be rendered (%s); left out of the list", chat.id, exc)
    return ChatPageOut(chats=chats, next_cursor=page.next_cursor)


def sent_out(result: SendResult, links: Links) -> SentMessageOut:
    return SentMessageOut.model_validate(
        _checked_parts(sent_message_view(result.message, result.chat, result.line, links))
    )


def chat_create_out(result: SendResult, links: Links) -> ChatCreateOut:
    chat, line = result.chat, result.line
    return ChatCreateOut.model_validate(
        {
            "chat": {
                "id": chat.id,
                "display_name": display_name(chat),
                "handles": [handle_view(h, line) for h in chat.handles],
                "health_status": health_view(chat),
                "is_group": chat.is_group,
                "message": sent_out(result, links),
                "service": result.message.service.value,
            }
        }
    )


def message_send_out(result: SendResult, links: Links) -> MessageSendOut:
    return MessageSendOut(chat_id=result.chat.id, message=sent_out(result, links))


def message_create_out(result: SendResult, links: Links) -> MessageCreateOut:
    chat, line = result.chat, result.line
    return MessageCreateOut.model_validate(
        {
            "chat_id": chat.id,
            "created_new_chat": result.created_chat,
            "from": line.phone_number,
            "from_selection": {
                "reason": result.reason,
                "reused_existing_chat": not result.created_chat,
            },
            "handles": [handle_view(h, line) for h in chat.handles],
            "is_group": chat.is_group,
            "message": sent_out(result, links),
            "service": result.message.service.value,
            "previous_chat_id": result.previous_chat_id,
        }
    )


def message_out(
    links: Links, message: Message, chat: Chat, line: Line, reactions: list[Reaction]
) -> MessageOut:
    view = message_view(message, chat, line, links, reactions)
    try:  # in one go: checking each part on its own first cost a page a tenth of its time
        return MessageOut.model_validate(view)
    except ValidationError:
        return MessageOut.model_validate(_checked_parts(view))


def message_page_out(page: MessagePage, links: Links) -> MessagePageOut:
    messages: list[MessageOut] = []
    for m in page.messages:
        try:
            messages.append(
                message_out(links, m, page.chat, page.line, page.reactions.get(m.id, []))
            )
        except ValidationError as exc:  # one bad row must not take the whole page down
            log.warning("message %s cannot be rendered (%s); left out of the page", m.id, exc)
    return MessagePageOut(messages=messages, next_cursor=page.next_cursor)


def phone_number_out(line: Line) -> PhoneNumberOut:
    return PhoneNumberOut.model_validate(
        {
            "id": line.id,
            "phone_number": line.phone_number,
            "reputation": {"doc_url": REPUTATION_DOC_URL, "status": line.reputation.value},
            "forwarding_number": line.forwarding_number,
            "line_type": line.line_type.value,
        }
    )


def voice_memo_out(memo: VoiceMemo, links: Links) -> VoiceMemoSendOut:
    sent, attachment = memo.sent, memo.attachment
    chat, line, message = sent.chat, sent.line, sent.message
    return VoiceMemoSendOut.model_validate(
        {
            "voice_memo": {
                "id": message.id,
                "chat": {
                    "id": chat.id,
                    "handles": [handle_view(h, line) for h in chat.handles],
                    "is_active": True,
                    "is_group": chat.is_group,
                    "service": chat.service.value,
                },
                "created_at": message.created_at,
                "from": line.phone_number,
                "status": message.delivery_status.value,
                "to": [h.handle for h in chat.recipients],
                "voice_memo": {
                    "id": attachment.id,
                    "filename": attachment.filename,
                    "mime_type": attachment.content_type,
                    "size_bytes": attachment.size_bytes,
                    "url": links.attachment_url(attachment.id, attachment.filename),
                    "duration_ms": memo.duration_ms,
                },
                "service": message.service.value,
            }
        }
    )


def contact_card_out(card: ContactCard) -> ContactCardOut:
    return ContactCardOut(
        first_name=card.first_name,
        is_active=card.is_active,
        phone_number=card.phone_number,
        image_url=card.image_url,
        last_name=card.last_name,
    )


def subscription_view(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "created_at": subscription.created_at,
        "updated_at": subscription.updated_at,
        "is_active": subscription.is_active,
        "subscribed_events": subscription.subscribed_events,
        "target_url": subscription.target_url,
        "phone_numbers": subscription.phone_numbers,
        # The chat-id header in effect: Linq-Chat-Id unless renamed, and only with affinity on.
        "routing_id_header": (subscription.routing_id_header or DEFAULT_ROUTING_ID_HEADER)
        if subscription.routing_key_header
        else None,
        "routing_key_header": subscription.routing_key_header,
        "disabled_reason": subscription.disabled_reason,
    }


def subscription_out(subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut.model_validate(subscription_view(subscription))


def delivery_out(delivery: Delivery, attempts: list[Attempt]) -> DeliveryOut:
    return DeliveryOut.model_validate(
        {
            **{k: getattr(delivery, k) for k in DeliveryOut.model_fields if hasattr(delivery, k)},
            "attempt_log": [
                AttemptOut(
                    attempted_at=a.attempted_at,
                    status_code=a.status_code,
                    latency_ms=a.latency_ms,
                    error=a.error,
                    response_snippet=a.response_snippet,
                )
                for a in attempts
            ],
        }
    )


def screen_message_out(item: ScreenItem) -> ScreenMessageOut:
    """One message on a simulated phone's screen (GET /sim/v1/devices/{h}/screen)."""
    message = item.message
    return ScreenMessageOut.model_validate(
        {
            "message_id": message.id,
            "chat_id": message.chat_id,
            "direction": item.direction,
            "counterpart": message.sender_handle,
            "service": message.service.value,
            "parts": jsonable([dict(p) for p in message.parts]),
            "effect": {"name": message.effect.name, "type": message.effect.type}
            if message.effect
            else None,
            "reply_to": {
                "message_id": message.reply_to.message_id,
                "part_index": message.reply_to.part_index,
            }
            if message.reply_to
            else None,
            "delivery_status": message.delivery_status.value,
            "at": message.delivered_at or message.sent_at or message.created_at,
            "reactions": item.reactions,
            "edits": jsonable(item.edits),
            "poll": item.poll,
        }
    )
