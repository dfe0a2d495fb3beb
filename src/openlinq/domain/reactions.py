"""Reacting to messages: tapbacks, custom-emoji tapbacks and stickers.

A handle has at most one tapback per message part (a new one replaces the old,
as on iMessage); stickers accumulate and cannot be removed. Stickers are
iMessage-only and need exactly one of emoji, url or attachment_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openlinq.domain.actions import CarrierActions
from openlinq.domain.attachments import AttachmentService
from openlinq.domain.chats import chat_and_line, require_usable
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.ids import new_id
from openlinq.domain.links import Links
from openlinq.domain.messages import owned_message
from openlinq.domain.models import Account, Chat, Line, Message, Reaction, Service
from openlinq.domain.views import custom_emoji, handle_view, placement_view, sticker_view
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

TAPBACKS = ("love", "like", "dislike", "laugh", "emphasize", "question", "custom")
MAX_EMOJI_LENGTH = 16
# A sticker's scale outside this range is clamped into it, not refused (the contract's rule).
MIN_SCALE, MAX_SCALE = 0.05, 2.5
PLACEMENT_FIELDS = ("x", "y", "scale", "rotation")


def clamp_placement(placement: dict[str, float | None]) -> dict[str, float]:
    """The fields given (None: not given), with the scale clamped."""
    given = {k: float(v) for k, v in placement.items() if k in PLACEMENT_FIELDS and v is not None}
    if "scale" in given:
        given["scale"] = min(max(given["scale"], MIN_SCALE), MAX_SCALE)
    return given


@dataclass(frozen=True, slots=True)
class ReactionRequest:
    operation: str  # "add" | "remove"
    type: str
    part_index: int = 0
    custom_emoji: str | None = None
    emoji: str | None = None
    url: str | None = None
    attachment_id: str | None = None
    placement: dict[str, float | None] | None = None


def check_reaction(request: ReactionRequest, message: Message) -> None:
    _check_poll_reaction(message, request.type)
    if not 0 <= request.part_index < max(len(message.parts), 1):
        raise LinqError(
            ErrorCode.INVALID_PARAMETER, f"part_index must be below {len(message.parts)}"
        )
    if request.type == "custom" and not request.custom_emoji:
        raise LinqError(ErrorCode.MISSING_REQUIRED_FIELD, "custom reactions need custom_emoji")
    if request.type != "custom" and request.custom_emoji:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "custom_emoji goes with type custom")
    sticker_sources = [s for s in (request.emoji, request.url, request.attachment_id) if s]
    if request.type != "sticker":
        if sticker_sources or request.placement is not None:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER,
                "emoji, url, attachment_id and placement go with type sticker",
            )
        return
    if request.operation == "remove":
        raise LinqError(ErrorCode.INVALID_PARAMETER, "stickers cannot be removed")
    if len(sticker_sources) != 1:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            "a sticker needs exactly one of emoji, url or attachment_id",
        )
    if message.service is not Service.IMESSAGE:
        raise LinqError(ErrorCode.CHAT_SERVICE_NOT_SUPPORTED, "stickers are iMessage only")


def _check_poll_reaction(message: Message, reaction_type: str) -> None:
    """A poll takes stickers only (iMessage has no tapbacks on polls), so its reactions
    are never removed: there is ``poll.reaction.added`` and no removal event."""
    if message.is_poll and reaction_type != "sticker":
        raise LinqError(ErrorCode.INVALID_PARAMETER, "a poll takes sticker reactions only")


def check_device_reaction(message: Message, reaction_type: str, remove: bool) -> None:
    """What a phone may do: the rules of ``check_reaction`` a device's reaction obeys."""
    _check_poll_reaction(message, reaction_type)
    if reaction_type == "sticker":
        if remove:
            raise LinqError(ErrorCode.INVALID_PARAMETER, "stickers cannot be removed")
        if message.service is not Service.IMESSAGE:
            raise LinqError(ErrorCode.CHAT_SERVICE_NOT_SUPPORTED, "stickers are iMessage only")


def reaction_event_type(message: Message) -> str:
    """A reaction added to a poll is ``poll.reaction.added``; elsewhere ``reaction.added``."""
    return "poll.reaction.added" if message.is_poll else "reaction.added"


class ReactionService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        events: EventLog,
        actions: CarrierActions,
        attachments: AttachmentService,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        self.actions = actions
        self.attachments = attachments

    async def _sticker_image(
        self, account: Account, request: ReactionRequest
    ) -> dict[str, Any] | None:
        """The attachment an image sticker names (by id, or by its download URL)."""
        reference = request.attachment_id or (
            self.attachments.links.attachment_id_of(request.url) if request.url else None
        )
        if request.url and reference is None:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER,
                "url must be an attachment download_url from this server",
            )
        if reference is None:
            return None
        attachment = await self.attachments.ready(account, reference)
        if not attachment.content_type.startswith("image/"):
            raise LinqError(ErrorCode.INVALID_FILE_TYPE, "stickers are images")
        size = await self.attachments.image_size(attachment)
        return {
            "attachment_id": attachment.id,
            "file_name": attachment.filename,
            "mime_type": attachment.content_type,
            "width": size[0] if size else None,
            "height": size[1] if size else None,
        }

    async def react(self, account: Account, message_id: str, request: ReactionRequest) -> None:
        sticker = await self._sticker_image(account, request) if request.type == "sticker" else None
        if request.type == "sticker" and request.emoji:
            sticker = {"emoji": request.emoji}
        async with self.storage.write() as repos:
            message = await owned_message(repos, account, message_id)
            chat, line = await chat_and_line(repos, account, message.chat_id)
            require_usable(chat, line)
            check_reaction(request, message)
            if request.operation == "add":
                await self._add(repos, message, chat, line, request, sticker)
            else:
                await self._remove(repos, message, chat, line, request)

    async def move_sticker(
        self,
        account: Account,
        message_id: str,
        reaction_id: str,
        placement: dict[str, float | None],
    ) -> None:
        """Change the given placement fields of one of the message's stickers."""
        async with self.storage.write() as repos:
            message = await owned_message(repos, account, message_id)
            chat, line = await chat_and_line(repos, account, message.chat_id)
            reaction = await repos.messages.reaction(message.id, reaction_id)
            if reaction is None:
                raise LinqError(
                    ErrorCode.MESSAGE_NOT_FOUND, f"reaction {reaction_id} not found on this message"
                )
            if reaction.type != "sticker":
                raise LinqError(
                    ErrorCode.INVALID_PARAMETER,
                    "only stickers can be moved; a tapback has no placement",
                )
            if reaction.placement is None:
                raise LinqError(
                    ErrorCode.MESSAGE_NOT_FOUND,
                    "this sticker was peeled before placement was recorded and cannot be moved",
                )
            require_usable(chat, line)
            moved = {**reaction.placement, **clamp_placement(placement)}
            await repos.messages.set_placement(reaction.id, moved)
            await self.actions.schedule(
                repos,
                chat,
                line,
                "sticker_moved",
                {"message_id": message.id, "reaction_id": reaction.id, "placement": moved},
            )

    async def _add(
        self,
        repos: Repos,
        message: Message,
        chat: Chat,
        line: Line,
        request: ReactionRequest,
        sticker: dict[str, Any] | None,
    ) -> None:
        now = self.clock.now()
        if request.type in TAPBACKS:
            for replaced in await repos.messages.remove_reactions(
                message.id, request.part_index, line.phone_number, TAPBACKS
            ):
                await self._emit(repos, "reaction.removed", message, chat, line, replaced)
        reaction = Reaction(
            id=new_id(),
            message_id=message.id,
            part_index=request.part_index,
            handle=line.phone_number,
            is_me=True,
            type=request.type,
            custom_emoji=request.custom_emoji,
            created_at=now,
            sticker=sticker,
            # Every sticker peeled from now on can be moved (an empty placement: defaults).
            placement=clamp_placement(request.placement or {})
            if request.type == "sticker"
            else None,
        )
        await repos.messages.add_reaction(reaction)
        await self._emit(repos, reaction_event_type(message), message, chat, line, reaction)

    async def _remove(
        self, repos: Repos, message: Message, chat: Chat, line: Line, request: ReactionRequest
    ) -> None:
        removed = await repos.messages.remove_reactions(
            message.id, request.part_index, line.phone_number, (request.type,)
        )
        for reaction in removed:
            await self._emit(repos, "reaction.removed", message, chat, line, reaction)

    async def _emit(
        self,
        repos: Repos,
        event_type: str,
        message: Message,
        chat: Chat,
        line: Line,
        reaction: Reaction,
    ) -> None:
        now = self.clock.now()
        await self.events.record(
            repos,
            chat.account_id,
            event_type,
            reaction_event_data(message, chat, reaction, now, self.attachments.links, line),
            phone_number=line.phone_number,
            now=now,
        )
        kind = "reaction_removed" if event_type == "reaction.removed" else "reaction_added"
        await self.actions.schedule(
            repos,
            chat,
            line,
            kind,
            {
                "message_id": message.id,
                "part_index": reaction.part_index,
                "type": reaction.type,
                "custom_emoji": reaction.custom_emoji,
            },
        )


def reaction_event_data(
    message: Message,
    chat: Chat,
    reaction: Reaction,
    now: Any,
    links: Links,
    line: Line | None = None,
) -> dict[str, Any]:
    """``reaction.added`` / ``reaction.removed`` data, for either side's reactions."""
    reactor = next((h for h in chat.handles if h.handle == reaction.handle), None)
    return {
        "is_from_me": reaction.is_me,
        "reaction_type": reaction.type,
        "chat_id": chat.id,
        "message_id": message.id,
        "part_index": reaction.part_index,
        "reacted_at": now,
        "reaction_id": reaction.id,
        "custom_emoji": custom_emoji(reaction),
        "from": reaction.handle,
        "from_handle": handle_view(reactor, line if reaction.is_me else None) if reactor else None,
        "service": message.service.value,
        "sticker": sticker_view(reaction, links),
        "placement": placement_view(reaction),
    }
