"""iMessage app cards (``imessage_app`` parts) and App Clip cards (``app_clip`` parts).

Both must be the only part of their message and travel over iMessage only: a
request pinned to SMS or RCS is refused (2018 / 2028), and a recipient without
iMessage makes the send fail (4005). An app card is updated by sending a new
message that replaces it; the original must be yours and already sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openlinq.domain.card_parts import imessage_app_part
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.experiences import experience_part
from openlinq.domain.messages import owned_message
from openlinq.domain.models import Account, DeliveryStatus, Service
from openlinq.domain.parts import MessageContent
from openlinq.store.unit import Storage

SENT = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ)


def _invalid(message: str) -> LinqError:
    return LinqError(ErrorCode.INVALID_MESSAGE_CONTENT, message)


def check_card_service(content: MessageContent) -> None:
    """Cards never downgrade: pinning one to SMS or RCS is refused up front."""
    kinds = {p["type"] for p in content.parts}
    pinned_elsewhere = content.preferred_service not in (None, Service.IMESSAGE)
    if "imessage_app" in kinds and pinned_elsewhere:
        raise LinqError(ErrorCode.IMESSAGE_APP_SERVICE_UNSUPPORTED)
    if "app_clip" in kinds and pinned_elsewhere:
        raise LinqError(ErrorCode.APP_CLIP_SERVICE_UNSUPPORTED)


def requires_imessage(content: MessageContent) -> bool:
    return any(p["type"] in ("imessage_app", "app_clip") for p in content.parts)


@dataclass(frozen=True, slots=True)
class CardUpdate:
    layout: dict[str, Any]
    url: str | None = None
    fallback_text: str | None = None
    interactive: bool = True
    app: dict[str, Any] | None = None
    experience: dict[str, Any] | None = None


class AppCardService:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def replacement(
        self, account: Account, message_id: str, update: CardUpdate
    ) -> tuple[str, MessageContent]:
        """The chat and content of the message that replaces an app card."""
        if update.experience is not None and update.url is not None:
            raise _invalid("url and experience cannot be combined")
        async with self.storage.read() as repos:
            message = await owned_message(repos, account, message_id)
        card = message.parts[0] if len(message.parts) == 1 else None
        if not message.is_from_me or card is None or card["type"] != "imessage_app":
            raise LinqError(ErrorCode.INVALID_PARAMETER, "only app cards you sent can be updated")
        if message.delivery_status not in SENT:
            # Genuinely retryable: the card becomes updatable once it is sent.
            raise LinqError(
                ErrorCode.STATE_CONFLICT,
                "the card is not sent yet; retry after its message.sent webhook",
                retryable=True,
            )
        if update.experience is not None:
            # The card becomes the experience's card (bound to the account when sent).
            card = experience_part(update.experience)
            return message.chat_id, MessageContent(
                parts=(card,), preferred_service=Service.IMESSAGE
            )
        part = imessage_app_part(
            {
                "app": update.app or card["app"],
                "layout": update.layout,
                "url": update.url,
                "fallback_text": update.fallback_text,
                "interactive": update.interactive,
            }
        )
        return message.chat_id, MessageContent(parts=(part,), preferred_service=Service.IMESSAGE)
