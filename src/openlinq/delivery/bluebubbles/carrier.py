"""The BlueBubbles carrier: iMessage through a Mac running the BlueBubbles server.

Outbound goes through the server's REST API (``/api/v1/...``); what happens next
(delivered, read, replies, tapbacks, typing) comes back as the server's webhooks,
handled by ``inbound.py`` and reported through ``DeliveryRecorder`` like the simulator's.
Each message's BlueBubbles GUID (and its chat's) is kept in ``repos.carrier_refs``
(indexed by line and GUID), so receipts and tapbacks find the message they are about.

Features the Mac can only do through BlueBubbles' Private API (effects, replies,
tapbacks, edits, typing, mark-read, groups) are refused with 2011 when the server
reports it off, never dropped silently. Files go both ways through openlinq's attachment
store; ``probe`` (a periodic job, delivery/routing.py) flags the line while the Mac is down.
No openlinq operation unsends a message (DELETE /v3/messages/{id} is API-side only), so
BlueBubbles' ``message/:guid/unsend`` is not used.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import IO, Any

from openlinq.blobs.store import BlobNotFoundError
from openlinq.delivery.bluebubbles.client import (
    BlueBubblesClient,
    BlueBubblesRefusedError,
    BlueBubblesUnreachableError,
    chat_path,
)
from openlinq.delivery.bluebubbles.settings import BlueBubblesSettings
from openlinq.delivery.carrier import CarrierRejectedError, ChatAction, OutboundMessage
from openlinq.delivery.routing import LineCarrier, token_hash
from openlinq.domain.attachments import AttachmentService, media_part, spooled
from openlinq.domain.clock import Clock
from openlinq.domain.delivery import DeliveryRecorder
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import AccountId, ChatId, LineId, MessageId
from openlinq.domain.models import Message, Service
from openlinq.store.repos import Repos
from openlinq.store.repos.attachments import Attachment
from openlinq.store.unit import Storage

log = logging.getLogger(__name__)

# How long the server's "Private API on" answer is trusted before asking again.
PRIVATE_API_TTL = timedelta(seconds=60)
# Capabilities are asked in the API request that sends: a handle's iMessage availability
# is remembered for a while rather than asked of the Mac on every send.
AVAILABILITY_TTL = timedelta(minutes=10)
MAX_REMEMBERED_HANDLES = 10_000
# The webhook events the carrier asks the Mac for (see inbound.py).
WEBHOOK_EVENTS = (
    "new-message",
    "updated-message",
    "typing-indicator",
    "chat-read-status-changed",
    "message-send-error",
    "group-name-change",
    "participant-added",
    "participant-removed",
    "participant-left",
    "group-icon-changed",
    "group-icon-removed",
)
# openlinq's effect names -> the expressive send style ids Messages uses.
_BUBBLE = "com.apple.MobileSMS.expressivesend."
_SCREEN = "com.apple.messages.effect."
EFFECT_IDS = {
    "slam": _BUBBLE + "impact",
    "loud": _BUBBLE + "loud",
    "gentle": _BUBBLE + "gentle",
    "invisible": _BUBBLE + "invisibleink",
    "echo": _SCREEN + "CKEchoEffect",
    "spotlight": _SCREEN + "CKSpotlightEffect",
    "balloons": _SCREEN + "CKHappyBirthdayEffect",
    "happy_birthday": _SCREEN + "CKHappyBirthdayEffect",
    "confetti": _SCREEN + "CKConfettiEffect",
    "love": _SCREEN + "CKHeartEffect",
    "hearts": _SCREEN + "CKHeartEffect",
    "lasers": _SCREEN + "CKLasersEffect",
    "fireworks": _SCREEN + "CKFireworksEffect",
    "celebration": _SCREEN + "CKSparklesEffect",
    "sparkles": _SCREEN + "CKShootingStarEffect",
}
# The group changes the API announces before the Mac makes them: a refusal is reported.
GROUP_FIELDS = {"group_renamed": "display_name", "group_icon_changed": "group_icon"}
# Tapbacks BlueBubbles can send (its MessageInterface.possibleReactions, without the "-").
TAPBACKS = frozenset({"love", "like", "dislike", "laugh", "emphasize", "question"})
# What each action the Mac can carry is called in a refusal (every one needs the Private API).
PRIVATE_API_ACTIONS = {
    "reaction_added": "a tapback",
    "reaction_removed": "a tapback",
    "message_edited": "an edit",
    "typing_started": "a typing indicator",
    "typing_stopped": "a typing indicator",
    "chat_read": "marking a chat read",
    "group_renamed": "renaming a group",
    "group_icon_changed": "a group photo",
    "participant_added": "changing a group's members",
    "participant_removed": "changing a group's members",
    "chat_left": "leaving a group",
}


def chat_guid(service: Service, handle: str) -> str:
    """The GUID Messages gives a one-to-one chat: ``iMessage;-;+14155551212``."""
    return f"{'SMS' if service is Service.SMS else 'iMessage'};-;{handle}"


class BlueBubblesCarrier(LineCarrier):
    name = "bluebubbles"

    def __init__(
        self,
        settings: BlueBubblesSettings,
        *,
        account_id: AccountId,
        line_id: LineId,
        phone_number: str,
        inbound_url: str,
        storage: Storage,
        clock: Clock,
        recorder: DeliveryRecorder,
        attachments: AttachmentService,
        **_unused: Any,  # queue, policy: the registry passes every carrier the same keywords
    ) -> None:
        self.settings = settings
        self.account_id = account_id
        self.line_id = line_id
        self.phone_number = phone_number
        self.inbound_url = inbound_url
        self.storage = storage
        self.clock = clock
        self.recorder = recorder
        self.attachments = attachments
        self.client = BlueBubblesClient(settings)
        self._private_api: tuple[bool, Any] | None = None
        # The Mac's last answer, however old (the API refuses from it, never asking the Mac).
        self._private_api_known: bool | None = None
        self._available: dict[str, tuple[bool, datetime]] = {}
        self._unreachable_at: datetime | None = None

    @property
    def webhook_url(self) -> str:
        return f"{self.inbound_url}/webhook"

    async def start(self) -> None:
        """Register the webhook with the Mac, and learn whether its Private API is on."""
        try:
            await self._register_webhook()
        except (BlueBubblesUnreachableError, BlueBubblesRefusedError) as exc:
            # Not fatal: sends still go; the receipts start once the Mac has the webhook.
            log.warning(
                "line %s: registering the BlueBubbles webhook failed: %s", self.phone_number, exc
            )
        await self._refresh_private_api()

    async def _register_webhook(self) -> None:
        """Once: an existing one for this URL is kept when it has every event the carrier
        needs, else replaced (an older openlinq asked for fewer). A webhook this openlinq
        registered with a token no BlueBubbles line has now (the line moved off BlueBubbles
        and back: a new token) is removed: the Mac would post every event twice, once to a
        URL answering 401 forever."""
        hooks = [h for h in await self.client.call("GET", "webhook") or [] if isinstance(h, dict)]
        ours = [h for h in hooks if h.get("url") == self.webhook_url]
        stale = [h for h in hooks if h not in ours and await self._stale(str(h.get("url")))]
        keep = any(set(WEBHOOK_EVENTS) <= set(h.get("events") or ()) for h in ours)
        for hook in stale if keep else [*ours, *stale]:
            await self.client.call("DELETE", f"webhook/{hook.get('id')}")
        if not keep:
            await self.client.call(
                "POST",
                "webhook",
                json={"url": self.webhook_url, "events": list(WEBHOOK_EVENTS)},
            )

    async def _stale(self, url: str) -> bool:
        """Whether ``url`` is this openlinq's BlueBubbles webhook URL for a token no line on
        BlueBubbles has (another line sharing the Mac keeps its own)."""
        prefix = self.inbound_url.rsplit("/", 1)[0] + "/"
        token, sep, rest = url.removeprefix(prefix).partition("/")
        if not url.startswith(prefix) or not token or (sep, rest) != ("/", "webhook"):
            return False
        async with self.storage.read() as repos:
            row = await repos.line_carriers.by_token_hash(token_hash(token))
        return row is None or row.carrier != self.name

    async def close(self) -> None:
        await self.client.close()

    @classmethod
    def never_carries(cls, kind: str, data: dict[str, Any]) -> LinqError | None:
        if kind not in PRIVATE_API_ACTIONS:
            return LinqError(ErrorCode.FEATURE_NOT_AVAILABLE, f"BlueBubbles cannot carry {kind}")
        if kind.startswith("reaction_") and data.get("type") not in TAPBACKS:
            return LinqError(
                ErrorCode.FEATURE_NOT_AVAILABLE,
                f"BlueBubbles cannot send a {data.get('type')} reaction",
            )
        return None

    async def refusal(
        self, repos: Repos, from_number: str, kind: str, data: dict[str, Any]
    ) -> LinqError | None:
        """What the Mac can never carry, and what needs the Private API while the Mac last
        said it is off (the cached answer, refreshed by sends, start and the health probe;
        never asked here: the caller holds a transaction). Unknown: allowed."""
        never = self.never_carries(kind, data)
        if never is not None:
            return never
        if self._private_api_known is False:
            return LinqError(ErrorCode.FEATURE_NOT_AVAILABLE, _needs_private_api(kind))
        return None

    async def probe(self) -> None:
        """Ping the Mac: one that does not answer (or refuses the password) flags the line
        until it answers again (domain/lines.record_gateway_health)."""
        wrong = await self.client.ping()
        answered = wrong is None
        self._unreachable_at = None if answered else self.clock.now()
        if answered:
            await self._refresh_private_api()
        if not await self.recorder.gateway_health(self.line_id, answered):
            return
        if answered:
            log.info("line %s: the BlueBubbles server answers again", self.phone_number)
        else:
            log.warning(
                "line %s: the BlueBubbles server %s: line flagged", self.phone_number, wrong
            )

    async def _refresh_private_api(self) -> None:
        """Ask the Mac now (start, the health probe): the API refuses from this answer."""
        try:
            self._private_api_known = await self.client.private_api()
        except (BlueBubblesUnreachableError, BlueBubblesRefusedError) as exc:
            log.info("line %s: the Private API state is unknown: %s", self.phone_number, exc)

    async def private_api(self) -> bool:
        now = self.clock.now()
        if self._private_api is not None and now - self._private_api[1] < PRIVATE_API_TTL:
            return self._private_api[0]
        available = await self.client.private_api()
        self._private_api = (available, now)
        self._private_api_known = available
        return available

    async def _require_private_api(self, what: str) -> None:
        if not await self.private_api():
            raise CarrierRejectedError(ErrorCode.FEATURE_NOT_AVAILABLE, _needs_private_api(what))

    # --- capabilities ---------------------------------------------------------------

    async def capabilities(self, account_id: AccountId, handle: str) -> frozenset[Service]:
        """iMessage when Apple says the handle is on it (the availability API needs the
        Private API: without it, or with the Mac unreachable, iMessage is assumed and a
        send to a handle that is not on it fails then); SMS for phone numbers when the
        Mac's iPhone forwards text messages."""
        sms = {Service.SMS} if self.settings.sms_forwarding and "@" not in handle else set()
        assumed = frozenset({Service.IMESSAGE, *sms})
        now = self.clock.now()
        if self._unreachable_at is not None and now - self._unreachable_at < PRIVATE_API_TTL:
            # The Mac did not answer a moment ago: the sending request must not wait for
            # it again (a send job finds out, and retries).
            return assumed
        try:
            if await self.private_api() and not await self._imessage_available(handle):
                return frozenset(sms)
        except BlueBubblesUnreachableError:
            self._unreachable_at = now
        except BlueBubblesRefusedError:
            pass
        else:
            self._unreachable_at = None
        return assumed

    async def _imessage_available(self, handle: str) -> bool:
        now = self.clock.now()
        known = self._available.get(handle)
        if known is not None and now - known[1] < AVAILABILITY_TTL:
            return known[0]
        available = await self.client.imessage_available(handle)
        if len(self._available) >= MAX_REMEMBERED_HANDLES:
            self._available.clear()
        self._available[handle] = (available, now)
        return available

    # --- send -----------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> None:
        async with self.storage.read() as repos:
            stored = await repos.messages.get_any(message.message_id)
            handed_over = await repos.carrier_refs.ref_of_message(message.message_id)
            reply_ref = None
            if message.reply_to_id is not None:
                reply_ref = await repos.carrier_refs.ref_of_message(message.reply_to_id)
            known_chat = await repos.carrier_refs.ref_of_chat(message.chat_id)
        if stored is None:
            return
        if handed_over:
            # Handed over already (a retried job): only the "sent" record may be missing.
            await self.recorder.sent(message.message_id)
            return
        if message.service not in (Service.IMESSAGE, Service.SMS) or (
            message.service is Service.SMS and not self.settings.sms_forwarding
        ):
            raise CarrierRejectedError(
                ErrorCode.RECIPIENT_UNSUPPORTED_TYPE,
                f"this Mac cannot send {message.service.value}",
            )
        try:
            guid, chat = await self._hand_over(message, stored, reply_ref, known_chat)
        except BlueBubblesUnreachableError as exc:
            if self.clock.now() - stored.created_at >= timedelta(
                seconds=self.settings.give_up_after
            ):
                raise CarrierRejectedError(
                    ErrorCode.SERVICE_UNAVAILABLE, "the BlueBubbles server cannot be reached"
                ) from None
            raise ConnectionError(f"BlueBubbles unreachable ({exc}); retrying") from None
        except BlueBubblesRefusedError as refused:
            raise _rejection(refused) from None
        async with self.storage.write() as repos:
            await self.remember(repos, message.message_id, guid, message.chat_id, chat)
            await self.recorder.sent(message.message_id, within=repos)

    async def _hand_over(
        self,
        message: OutboundMessage,
        stored: Message,
        reply_ref: str | None,
        known_chat: str | None,
    ) -> tuple[str, str]:
        """Send it; the message's GUID and its chat's.

        Messages carries text and each file as separate bubbles: the text goes first, then
        each media part (``message/attachment``); the message's GUID is the first bubble's
        (receipts and tapbacks follow it). An effect or a reply rides on the first bubble.
        """
        text, media = _text_of(message.parts)
        extras: dict[str, Any] = {}
        if message.effect is not None:
            await self._require_private_api("a message effect")
            extras["effectId"] = EFFECT_IDS.get(message.effect.name, message.effect.name)
        if reply_ref is not None:
            await self._require_private_api("a reply")
            extras["selectedMessageGuid"] = reply_ref
            extras["partIndex"] = stored.reply_to.part_index if stored.reply_to else 0
        if extras:
            extras["method"] = "private-api"
        guids: list[str] = []
        if message.is_group and known_chat is None:
            await self._require_private_api("a group chat")
            created = await self.client.call(
                "POST",
                "chat/new",
                json={
                    "addresses": list(message.recipients),
                    "message": text,
                    "method": "private-api",
                    "service": "iMessage",
                    "tempGuid": str(message.message_id),
                },
            )
            chat = str(created["guid"])
            first = (created.get("messages") or [{}])[0]
            guids.append(str(first.get("guid") or message.message_id))
            text = ""
        else:
            chat = known_chat or chat_guid(message.service, message.recipients[0])
        if text or not (media or guids):
            body = {"chatGuid": chat, "tempGuid": str(message.message_id), "message": text}
            sent = await self.client.call("POST", "message/text", json={**body, **extras})
            guids.append(str(sent["guid"]))
        for index, part in enumerate(media):
            temp = f"{message.message_id}.{index}" if guids else str(message.message_id)
            sent = await self._send_file(chat, temp, part, {} if guids else extras)
            guids.append(str(sent["guid"]))
        return guids[0], chat

    async def _send_file(
        self, chat: str, temp_guid: str, part: dict[str, Any], extras: dict[str, Any]
    ) -> Any:
        """One media part as ``POST message/attachment`` (multipart: the file, chatGuid,
        tempGuid, name), read from openlinq's attachment store."""
        async with self.storage.read() as repos:
            attachment = await repos.attachments.get(self.account_id, str(part.get("id")))
        if attachment is None or attachment.status != "complete":
            raise CarrierRejectedError(
                ErrorCode.ATTACHMENT_NOT_FOUND, "the attachment was deleted before it was sent"
            )
        fields = {"chatGuid": chat, "tempGuid": temp_guid, "name": attachment.filename}
        if part.get("voice_memo"):
            fields["isAudioMessage"] = "true"  # the voice-memo bubble, not a file
        fields.update({k: str(v) for k, v in extras.items()})
        try:
            async with spooled(self.attachments.blobs, attachment) as path:
                with open(path, "rb") as file:  # noqa: ASYNC230 (a local temp file)
                    return await self.client.call(
                        "POST",
                        "message/attachment",
                        data=fields,
                        files={"attachment": (attachment.filename, file, attachment.content_type)},
                    )
        except BlobNotFoundError:
            raise CarrierRejectedError(
                ErrorCode.ATTACHMENT_NOT_FOUND, "the attachment's file is gone"
            ) from None

    # --- actions --------------------------------------------------------------------

    async def perform(self, action: ChatAction) -> None:
        try:
            handler = _ACTIONS.get(action.kind)
            if handler is None:
                raise CarrierRejectedError(
                    ErrorCode.FEATURE_NOT_AVAILABLE, f"BlueBubbles cannot carry {action.kind}"
                )
            try:
                await handler(self, action)
            except BlueBubblesRefusedError as refused:
                raise _rejection(refused) from None
        except CarrierRejectedError:
            field = GROUP_FIELDS.get(action.kind)
            if field is not None:
                # The API stored and announced it: the partner hears that the phones did not.
                await self.recorder.group_update_failed(
                    action.account_id, action.chat_id, field, ErrorCode.DELIVERY_FAILED
                )
            raise

    async def _chat_of(self, action: ChatAction) -> str:
        async with self.storage.read() as repos:
            known = await repos.carrier_refs.ref_of_chat(action.chat_id)
        if known is not None:
            return known
        if len(action.recipients) == 1:
            return chat_guid(action.service, action.recipients[0])
        raise CarrierRejectedError(
            ErrorCode.CHAT_NOT_FOUND, "this group has no BlueBubbles chat yet (send to it first)"
        )

    async def _guid_of(self, message_id: MessageId) -> str:
        async with self.storage.read() as repos:
            ref = await repos.carrier_refs.ref_of_message(message_id)
        if not ref:
            raise CarrierRejectedError(
                ErrorCode.MESSAGE_NOT_FOUND, "the message never reached BlueBubbles"
            )
        return str(ref)

    async def _react(self, action: ChatAction) -> None:
        kind = action.data.get("type")
        if kind not in TAPBACKS:
            raise CarrierRejectedError(
                ErrorCode.FEATURE_NOT_AVAILABLE, f"BlueBubbles cannot send a {kind} reaction"
            )
        await self._require_private_api("a tapback")
        await self.client.call(
            "POST",
            "message/react",
            json={
                "chatGuid": await self._chat_of(action),
                "selectedMessageGuid": await self._guid_of(MessageId(action.data["message_id"])),
                "reaction": kind if action.kind == "reaction_added" else f"-{kind}",
                "partIndex": int(action.data.get("part_index") or 0),
            },
        )

    async def _edit(self, action: ChatAction) -> None:
        await self._require_private_api("an edit")
        guid = await self._guid_of(MessageId(action.data["message_id"]))
        text = str(action.data.get("text", ""))
        await self.client.call(
            "POST",
            f"message/{chat_path(guid)}/edit",
            json={
                "editedMessage": text,
                "backwardsCompatibilityMessage": f"Edited to “{text}”",
                "partIndex": int(action.data.get("part_index") or 0),
            },
        )

    async def _typing(self, action: ChatAction) -> None:
        if action.service is not Service.IMESSAGE:
            return  # typing indicators exist on iMessage only
        await self._require_private_api("a typing indicator")
        method = "POST" if action.kind == "typing_started" else "DELETE"
        await self.client.call(method, f"chat/{chat_path(await self._chat_of(action))}/typing")

    async def _read(self, action: ChatAction) -> None:
        await self._require_private_api("marking a chat read")
        await self.client.call("POST", f"chat/{chat_path(await self._chat_of(action))}/read")

    async def _rename(self, action: ChatAction) -> None:
        await self._require_private_api("renaming a group")
        chat = chat_path(await self._chat_of(action))
        name = action.data.get("name") or action.data.get("display_name") or ""
        await self.client.call("PUT", f"chat/{chat}", json={"displayName": str(name)})

    async def _icon(self, action: ChatAction) -> None:
        """The group's new photo (the icon URL given to the API: one of openlinq's
        attachment links, or a public image fetched first) as ``POST chat/:guid/icon``."""
        await self._require_private_api("a group photo")
        chat = chat_path(await self._chat_of(action))
        url = action.data.get("url")
        async with self.storage.read() as repos:
            account = await repos.accounts.get(self.account_id)
        assert account is not None, "a line's account exists"
        try:
            image = await self.attachments.by_url(account, str(url), "group_chat_icon")
        except LinqError as error:
            raise CarrierRejectedError(error.code, error.message) from None
        async with spooled(self.attachments.blobs, image) as path:
            with open(path, "rb") as file:  # noqa: ASYNC230 (a local temp file)
                icon: IO[bytes] = file
                upload = {"icon": (image.filename, icon, image.content_type)}
                await self.client.call("POST", f"chat/{chat}/icon", files=upload)

    async def _participant(self, action: ChatAction) -> None:
        await self._require_private_api("changing a group's members")
        verb = "add" if action.kind == "participant_added" else "remove"
        chat = chat_path(await self._chat_of(action))
        await self.client.call(
            "POST", f"chat/{chat}/participant/{verb}", json={"address": action.data["handle"]}
        )

    async def _leave(self, action: ChatAction) -> None:
        await self._require_private_api("leaving a group")
        await self.client.call("POST", f"chat/{chat_path(await self._chat_of(action))}/leave")

    # --- inbound (called by inbound.py) ----------------------------------------------

    async def on_webhook(self, event: dict[str, Any]) -> None:
        from openlinq.delivery.bluebubbles.inbound import handle_event

        await handle_event(self, event)

    async def fetch_attachment(self, guid: str, about: dict[str, Any]) -> dict[str, Any] | None:
        """A received file, downloaded from the Mac and stored as an attachment: its media
        part (None when the Mac cannot give it or openlinq does not take its type)."""
        name = str(about.get("transferName") or guid)
        path = f"attachment/{chat_path(guid)}/download"
        stored = await self._receive(path, name, about.get("mimeType"))
        return None if stored is None else media_part(stored)

    async def fetch_group_icon(self, chat_ref: str) -> str | None:
        """A group's photo as the Mac has it now, stored as an attachment: its stable link."""
        stored = await self._receive(f"chat/{chat_path(chat_ref)}/icon", "group-icon", None)
        return None if stored is None else self.attachments.download_url(stored)

    async def _receive(self, path: str, name: str, declared: str | None) -> Attachment | None:
        try:
            async with self.storage.read() as repos:
                account = await repos.accounts.get(self.account_id)
            assert account is not None, "a line's account exists"
            async with self.client.download(path) as (content_type, body):
                return await self.attachments.receive(account, name, declared or content_type, body)
        except (BlueBubblesUnreachableError, BlueBubblesRefusedError, LinqError) as exc:
            # The message still arrives (its text, its other files); the operator sees why.
            log.warning("line %s: %s not received: %s", self.phone_number, path, exc)
            return None

    async def participants(self, chat_ref: str, event: dict[str, Any]) -> set[str] | None:
        """A group's members as the Mac lists them (the event carries them, unless the
        server left them out for size: then asked). None when the Mac cannot say."""
        chats = event.get("chats")
        listed = chats[0].get("participants") if isinstance(chats, list) and chats else None
        if not listed:
            try:
                chat = await self.client.call(
                    "GET", f"chat/{chat_path(chat_ref)}", params={"with": "participants"}
                )
            except (BlueBubblesUnreachableError, BlueBubblesRefusedError) as exc:
                log.warning("line %s: the group's members are unknown: %s", self.phone_number, exc)
                return None
            listed = chat.get("participants") if isinstance(chat, dict) else None
        return {
            str(p["address"])
            for p in listed or []
            if isinstance(p, dict) and isinstance(p.get("address"), str)
        }

    async def chat_for(self, chat_ref: str, sender: str) -> ChatId | None:
        """openlinq's chat for a BlueBubbles chat GUID (a group's, or a one-to-one one's)."""
        async with self.storage.read() as repos:
            known = await repos.carrier_refs.chat_for(self.line_id, chat_ref)
            if known is not None:
                return known
            if ";-;" in chat_ref:
                direct = await repos.chats.direct_chat(self.account_id, self.line_id, sender)
                return direct.id if direct else None
        return None

    async def message_for(self, guid: str) -> MessageId | None:
        """openlinq's message for a BlueBubbles message GUID (sent or received on this line)."""
        async with self.storage.read() as repos:
            return await repos.carrier_refs.message_for(self.line_id, guid)

    async def remember(
        self, repos: Repos, message_id: MessageId, guid: str, chat_id: ChatId, chat_ref: str
    ) -> None:
        """Keep the GUIDs BlueBubbles gave a message and its chat, for its later webhooks."""
        now = self.clock.now()
        await repos.carrier_refs.put_message(self.line_id, guid, message_id, now)
        await repos.carrier_refs.put_chat(self.line_id, chat_ref, chat_id, now)


async def _noop(_carrier: BlueBubblesCarrier, _action: ChatAction) -> None:
    """Nothing to carry: the devices show it from the chat itself, or Messages has no
    equivalent that BlueBubbles can send (backgrounds, stickers moved, poll votes)."""


_ACTIONS = {
    "reaction_added": BlueBubblesCarrier._react,
    "reaction_removed": BlueBubblesCarrier._react,
    "message_edited": BlueBubblesCarrier._edit,
    "typing_started": BlueBubblesCarrier._typing,
    "typing_stopped": BlueBubblesCarrier._typing,
    "chat_read": BlueBubblesCarrier._read,
    "group_renamed": BlueBubblesCarrier._rename,
    "group_icon_changed": BlueBubblesCarrier._icon,
    "participant_added": BlueBubblesCarrier._participant,
    "participant_removed": BlueBubblesCarrier._participant,
    "chat_left": BlueBubblesCarrier._leave,
}


def _text_of(parts: tuple[dict[str, Any], ...]) -> tuple[str, list[dict[str, Any]]]:
    """The message's text (text and link parts, one per line) and its media parts."""
    other = sorted({str(p["type"]) for p in parts} - {"text", "link", "media"})
    if other:
        # App cards (imessage_app, app_clip) are Linq's own extensions: Messages has no
        # BlueBubbles route for them.
        raise CarrierRejectedError(
            ErrorCode.FEATURE_NOT_AVAILABLE, f"BlueBubbles cannot send {', '.join(other)} parts"
        )
    texts = [str(p["value"]) for p in parts if p["type"] in ("text", "link")]
    media = [p for p in parts if p["type"] == "media"]
    return "\n".join(texts), media


def _needs_private_api(what: str) -> str:
    what = PRIVATE_API_ACTIONS.get(what, what)
    return f"{what} needs the BlueBubbles Private API, which this Mac has off"


def _rejection(refused: BlueBubblesRefusedError) -> CarrierRejectedError:
    if refused.needs_private_api:
        return CarrierRejectedError(
            ErrorCode.FEATURE_NOT_AVAILABLE, "this needs the BlueBubbles Private API"
        )
    data = refused.data
    if isinstance(data, dict) and data.get("error"):
        # Messages could not deliver it (error 22: the handle is not on iMessage ...).
        return CarrierRejectedError(
            ErrorCode.PHONE_NOT_AVAILABLE,
            f"Messages could not send it (error {data['error']})",
        )
    return CarrierRejectedError(
        ErrorCode.SERVICE_UNAVAILABLE, f"BlueBubbles refused: {refused.message}"
    )
