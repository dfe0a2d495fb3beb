"""JSON views of domain records, shared by API responses and webhook payloads.

One function per shape of the contract, so a chat or a message looks the same
whether it is read through the API or arrives in an event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from openlinq.domain.ids import HandleId
from openlinq.domain.links import Links
from openlinq.domain.models import (
    Chat,
    ChatHandle,
    DeliveryStatus,
    HandleStatus,
    Line,
    Message,
    Reaction,
)

HEALTH_DOC_URL = "https://docs.linqapp.com/guides/chats/chat-health/"
REPUTATION_DOC_URL = "https://docs.linqapp.com/guides/phone-numbers/phone-reputation/"

JSON = dict[str, Any]

log = logging.getLogger(__name__)


# Where an account change was made, and who made it as the account event's ``actor`` shows:
# an API key, openlinq's console (it has no team members, so no one to name), or the
# operator's CLI and the simulator (the platform itself, "System" on the Activity page).
Origin = Literal["api", "dashboard", "linq"]
ACTORS: dict[str, str] = {"api": "api", "dashboard": "unknown", "linq": "system"}


def account_event_data(summary: str, now: datetime, origin: Origin, **objects: Any) -> JSON:
    """The data of an account event (contract §7.3): the fields every one carries, plus
    the objects that identify what changed (absent, not null, when they don't apply)."""
    data: JSON = {
        "summary": summary,
        "occurred_at": now,
        "actor": {"type": ACTORS[origin]},
        "origin": origin,
    }
    data.update({name: value for name, value in objects.items() if value is not None})
    return data


def api_token_view(key: dict[str, Any]) -> JSON:
    """The ``api_token`` of api_token.* events; openlinq keys never expire."""
    token: JSON = {"id": key["id"], "token_prefix": key["prefix"] or "", "expires_at": None}
    if key["name"]:
        token["name"] = key["name"]
    return token


def unrenderable_part(message_id: str, index: int, problem: object) -> JSON:
    """What a stored part that cannot be shown is shown as: an empty text part, so one bad
    row never takes a list (or a webhook) down and the other parts keep their indexes."""
    log.warning(
        "message %s: part %d cannot be rendered (%s); shown empty", message_id, index, problem
    )
    return {"type": "text", "value": ""}


def handle_view(handle: ChatHandle, line: Line | None = None) -> JSON:
    view: JSON = {
        "id": handle.id,
        "handle": handle.handle,
        "joined_at": handle.joined_at,
        "service": handle.service.value,
        "is_me": handle.is_me,
        "left_at": handle.left_at,
        "status": handle.status.value,
    }
    if handle.is_me and line is not None:
        view["line_type"] = line.line_type.value
    return view


def health_view(chat: Chat) -> JSON:
    status = chat.health.value
    return {
        "doc_url": f"{HEALTH_DOC_URL}#{status.lower().replace('_', '-')}",
        "status": status,
        "updated_at": chat.health_updated_at,
    }


def display_name(chat: Chat) -> str | None:
    """A group's own name, else the recipients' handles joined by commas."""
    if chat.display_name:
        return chat.display_name
    return ", ".join(h.handle for h in chat.handles if not h.is_me) or None


def chat_view(chat: Chat, line: Line | None = None) -> JSON:
    return {
        "id": chat.id,
        "created_at": chat.created_at,
        "updated_at": chat.updated_at,
        "display_name": display_name(chat),
        "handles": [handle_view(h, line) for h in chat.handles],
        "health_status": health_view(chat),
        "is_archived": False,
        "is_group": chat.is_group,
        "group_chat_icon": chat.group_icon,
        "service": chat.service.value,
    }


def reaction_sticker(reaction: Reaction) -> dict[str, Any] | None:
    """The sticker a reaction peeled on: an image ``{attachment_id, file_name, mime_type}`` or
    an emoji ``{emoji}`` (rows from before emoji stickers were stored as such kept the emoji in
    ``custom_emoji``)."""
    if reaction.type != "sticker":
        return None
    if reaction.sticker:
        return reaction.sticker
    return {"emoji": reaction.custom_emoji} if reaction.custom_emoji else None


def sticker_view(reaction: Reaction, links: Links) -> JSON | None:
    """A reaction's sticker as the wire shows it: an image with a freshly signed URL, or an
    emoji (the contract's fields are all null for it; the emoji rides along as ``emoji``)."""
    sticker = reaction_sticker(reaction)
    if not sticker:
        return None
    if "attachment_id" not in sticker:
        return {
            "emoji": sticker.get("emoji"),
            "file_name": None,
            "mime_type": None,
            "url": None,
            "height": None,
            "width": None,
        }
    return {
        "file_name": sticker["file_name"],
        "mime_type": sticker["mime_type"],
        "url": links.download_url(sticker["attachment_id"], sticker["file_name"]),
        # Measured when the sticker was peeled; None for images whose header tells no size.
        "height": sticker.get("height"),
        "width": sticker.get("width"),
    }


# Where a sticker sits when a field was never given: centred, unrotated, default size.
PLACEMENT_DEFAULTS = {"x": 0.0, "y": 0.0, "rotation": 0.0}
IMAGE_SCALE, EMOJI_SCALE = 1.0, 0.5


def placement_view(reaction: Reaction) -> JSON | None:
    """A movable sticker's placement, every field filled (None for tapbacks and for
    stickers peeled before placement was recorded)."""
    if reaction.type != "sticker" or reaction.placement is None:
        return None
    sticker = reaction_sticker(reaction) or {}
    scale = IMAGE_SCALE if "attachment_id" in sticker else EMOJI_SCALE
    return {**PLACEMENT_DEFAULTS, "scale": scale, **reaction.placement}


def background_view(background: dict[str, Any] | None, links: Links) -> JSON | None:
    """A chat background as ``chat.background_updated`` shows it (photos by a signed link)."""
    if background is None:
        return None
    image = background.get("attachment_id")
    return {
        "type": background["type"],
        "variant": background.get("variant"),
        "style": background.get("style"),
        "shades": background.get("shades"),
        "image_url": links.download_url(image, background["file_name"]) if image else None,
    }


def custom_emoji(reaction: Reaction) -> str | None:
    """``custom_emoji`` belongs to custom tapbacks only."""
    return reaction.custom_emoji if reaction.type == "custom" else None


def _reaction_view(
    reaction: Reaction,
    handles: dict[str, ChatHandle],
    chat: Chat,
    links: Links,
    line: Line | None,
) -> JSON:
    handle = handles.get(reaction.handle) or ChatHandle(
        id=HandleId(reaction.id),
        chat_id=chat.id,
        handle=reaction.handle,
        service=chat.service,
        is_me=reaction.is_me,
        status=HandleStatus.LEFT,
        joined_at=reaction.created_at,
        left_at=None,
    )
    return {
        "handle": handle_view(handle, line),
        "is_me": reaction.is_me,
        "type": reaction.type,
        "id": reaction.id,
        "custom_emoji": custom_emoji(reaction),
        "sticker": sticker_view(reaction, links),
        "placement": placement_view(reaction),
    }


def reactions_view(
    reactions: Sequence[Reaction],
    chat: Chat,
    links: Links,
    line: Line | None = None,
    *,
    part_index: int = 0,
) -> list[JSON]:
    """The reactions on one part of a message (a poll's envelope shows part 0's)."""
    handles = {h.handle: h for h in chat.handles}
    return [
        _reaction_view(r, handles, chat, links, line)
        for r in reactions
        if r.part_index == part_index
    ]


def part_view(part: dict[str, Any], links: Links) -> JSON:
    """One stored part as the wire shows it; media gets a freshly signed download URL (an
    hour), inline stickers their images' stable links."""
    if part["type"] == "media":
        return {
            "type": "media",
            "id": part["id"],
            "filename": part["filename"],
            "mime_type": part["mime_type"],
            "size_bytes": part["size_bytes"],
            "url": links.download_url(part["id"], part["filename"]),
        }
    if part.get("inline_stickers"):
        # The contract's inline sticker url is permanent, a media part's expires in an hour.
        stickers = [
            {**s, "url": links.attachment_url(s["id"], s["file_name"])}
            for s in part["inline_stickers"]
        ]
        return {**part, "inline_stickers": stickers}
    return dict(part)


def parts_view(
    message: Message,
    chat: Chat,
    links: Links,
    reactions: Sequence[Reaction] = (),
    *,
    with_reactions: bool = True,
    line: Line | None = None,
) -> list[JSON]:
    """The parts of a message; ``line`` gives your own handle its line type in reactions."""
    handles = {h.handle: h for h in chat.handles}
    views: list[JSON] = []
    for index, part in enumerate(message.parts):
        try:
            view = part_view(part, links)
            if part["type"] == "text" and part.get("mention"):
                mentioned = handles.get(part["mention"])
                view["mentions"] = [
                    {
                        "handle": part["mention"],
                        "is_me": bool(mentioned and mentioned.is_me),
                        "range": part["mention_range"],
                    }
                ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            view = unrenderable_part(message.id, index, repr(exc))
        if with_reactions:
            view["reactions"] = [
                _reaction_view(r, handles, chat, links, line)
                for r in reactions
                if r.part_index == index
            ]
        views.append(view)
    return views


def sender_handle(message: Message, chat: Chat) -> ChatHandle | None:
    return next((h for h in chat.handles if h.handle == message.sender_handle), None)


def _effect_view(message: Message) -> JSON | None:
    return {"name": message.effect.name, "type": message.effect.type} if message.effect else None


def _reply_view(message: Message) -> JSON | None:
    if message.reply_to is None:
        return None
    return {"message_id": message.reply_to.message_id, "part_index": message.reply_to.part_index}


def sent_message_view(message: Message, chat: Chat, line: Line, links: Links) -> JSON:
    """``SentMessage``: the message as a send endpoint returns it."""
    sender = sender_handle(message, chat)
    return {
        "id": message.id,
        "created_at": message.created_at,
        "delivery_status": message.delivery_status.value,
        "is_read": message.delivery_status is DeliveryStatus.READ,
        "parts": parts_view(message, chat, links, line=line),
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "effect": _effect_view(message),
        "from_handle": handle_view(sender, line) if sender else None,
        "preferred_service": message.preferred_service.value if message.preferred_service else None,
        "reply_to": _reply_view(message),
        "service": message.service.value,
    }


def message_view(
    message: Message, chat: Chat, line: Line, links: Links, reactions: Sequence[Reaction] = ()
) -> JSON:
    """``Message``: the full record as GET and list endpoints return it."""
    sender = sender_handle(message, chat)
    status = message.delivery_status
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
        "delivery_status": status.value,
        "is_delivered": status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ),
        "is_from_me": message.is_from_me,
        "is_read": status is DeliveryStatus.READ or message.read_at is not None,
        "delivered_at": message.delivered_at,
        "read_at": message.read_at,
        "sent_at": message.sent_at,
        "effect": _effect_view(message),
        "from": message.sender_handle,
        "from_handle": handle_view(sender, line) if sender else None,
        "parts": parts_view(message, chat, links, reactions, line=line),
        "preferred_service": message.preferred_service.value if message.preferred_service else None,
        "reply_to": _reply_view(message),
        "service": message.service.value,
    }


def message_event_view(message: Message, chat: Chat, line: Line, links: Links) -> JSON:
    """``MessageEventV2``: the data of message.sent / received / delivered / read."""
    sender = sender_handle(message, chat)
    own = chat.own_handle
    view: JSON = {
        "id": message.id,
        "chat": {
            "id": chat.id,
            "health_status": health_view(chat),
            "is_group": chat.is_group,
            "owner_handle": handle_view(own, line),
        },
        "direction": message.direction.value,
        "parts": parts_view(message, chat, links, with_reactions=False),
        "sender_handle": handle_view(sender, line) if sender else None,
        "service": message.service.value,
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "read_at": message.read_at,
        "effect": _effect_view(message),
        "idempotency_key": message.idempotency_key,
        "preferred_service": message.preferred_service.value if message.preferred_service else None,
        "reply_to": _reply_view(message),
    }
    if line.zero_retention:
        # A zero-retention line's events never carry content (contract §7.3).
        view["parts"] = []
        view["zero_retention"] = True
    return view


def opt_change_view(message: Message, line: Line, keyword: str | None, now: datetime) -> JSON:
    """message.opt_out / message.opt_in (no schema in the SDK; docs/differences.md): who
    opted out or back in, by which message, on which line and chat."""
    view: JSON = {
        "chat_id": message.chat_id,
        "message_id": message.id,
        "handle": message.sender_handle,
        "phone_number": line.phone_number,
        "service": message.service.value,
        "changed_at": now,
    }
    if keyword is not None:
        view["keyword"] = keyword
    return view


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def jsonable(value: Any) -> Any:
    """Datetimes to ISO-8601 strings, recursively, for storage in JSON columns."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
