"""Chat backgrounds: the rules of a background request, and carrying it to the devices.

A request is checked in full first (type, variant per type, shades, style, image URL); a
photo is then fetched, sniffed and kept as an attachment before the request is accepted,
so a URL that cannot be fetched (5007) or is not a JPEG, PNG, HEIC or WebP image (5006)
is refused at once. The change itself is asynchronous: a chat action hands it to the
carrier, which reports ``chat.background_updated`` (the background is stored then) or
``chat.background_update_failed``. Backgrounds exist on iMessage only: on an SMS or RCS
chat a request is accepted and nothing happens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from openlinq.domain.actions import CarrierActions
from openlinq.domain.attachments import AttachmentService
from openlinq.domain.chats import chat_and_line, require_usable
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.models import Account, Service
from openlinq.domain.views import background_view
from openlinq.store.unit import Storage

ACTION = "background_changed"
COLOR_VARIANTS = frozenset(
    {
        "mango",
        "ice",
        "plum",
        "deep_sea",
        "green_apple",
        "cherry",
        "bubblegum",
        "tangerine",
        "magenta",
        "lime",
        "silver",
        "carbon",
        "stone",
    }
)
DYNAMIC_VARIANTS = {
    "sky": frozenset({"dusk", "haze", "sunset", "clear", "sunrise", "dawn"}),
    "water": frozenset({"light", "dark"}),
    "aurora": frozenset({"green", "purple", "pink"}),
}
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/heic", "image/heif", "image/webp"})
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
# What the attachment fetch refuses, as the background endpoint's codes.
_NOT_FETCHED = (ErrorCode.FILE_DOWNLOAD_FAILED, ErrorCode.FILE_TOO_LARGE)
_NOT_AN_IMAGE = (ErrorCode.INVALID_FILE_TYPE, ErrorCode.CONTENT_TYPE_MISMATCH)


@dataclass(frozen=True, slots=True)
class BackgroundRequest:
    type: str  # "color" | "dynamic" | "photo"
    variant: str | None = None
    shades: tuple[str, ...] | None = None
    style: str | None = None
    image_url: str | None = None


def _refuse(message: str) -> LinqError:
    return LinqError(ErrorCode.INVALID_PARAMETER, message)


def _only(request: BackgroundRequest, allowed: set[str]) -> None:
    given = {
        name
        for name in ("variant", "shades", "style", "image_url")
        if getattr(request, name) is not None
    }
    extra = sorted(given - allowed)
    if extra:
        raise _refuse(f"{', '.join(extra)} cannot be used with a {request.type} background")


def check_background(request: BackgroundRequest) -> dict[str, Any]:
    """The background to store (a photo without its image yet), or 400 / 1005."""
    if request.type == "color":
        _only(request, {"variant", "shades"})
        variant = request.variant or "custom"
        if variant != "custom":
            if variant not in COLOR_VARIANTS:
                raise _refuse(f"unknown color variant {variant!r}")
            return {"type": "color", "variant": variant}
        shades = request.shades
        if shades is None:
            raise LinqError(
                ErrorCode.MISSING_REQUIRED_FIELD,
                "a custom color needs shades: [top, bottom] as #RRGGBB",
            )
        if len(shades) != 2 or not all(_HEX.match(s) for s in shades):
            raise _refuse("shades must be two colors as #RRGGBB, top then bottom")
        return {"type": "color", "variant": "custom", "shades": [s.upper() for s in shades]}
    if request.type == "dynamic":
        _only(request, {"variant", "style"})
        if request.style is None or request.variant is None:
            raise LinqError(
                ErrorCode.MISSING_REQUIRED_FIELD, "a dynamic background needs style and variant"
            )
        if request.style not in DYNAMIC_VARIANTS:
            raise _refuse(f"style must be one of {', '.join(DYNAMIC_VARIANTS)}")
        if request.variant not in DYNAMIC_VARIANTS[request.style]:
            choices = ", ".join(sorted(DYNAMIC_VARIANTS[request.style]))
            raise _refuse(f"a {request.style} background's variant is one of {choices}")
        return {"type": "dynamic", "style": request.style, "variant": request.variant}
    if request.type == "photo":
        _only(request, {"image_url"})
        if not request.image_url:
            raise LinqError(ErrorCode.MISSING_REQUIRED_FIELD, "a photo background needs image_url")
        return {"type": "photo"}
    raise _refuse("type must be color, dynamic or photo")


class BackgroundService:
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

    async def set(self, account: Account, chat_id: str, request: BackgroundRequest) -> None:
        check_background(request)  # a bad request is refused whatever the chat
        if await self._imessage_chat(account, chat_id):
            await self._send(account, chat_id, await self.prepare(account, request))

    async def prepare(self, account: Account, request: BackgroundRequest) -> dict[str, Any]:
        """The background to apply: checked, its photo fetched and kept (as a phone sets it
        too, see the simulator)."""
        background = check_background(request)
        if request.image_url is not None:
            image = await self._rehost(account, request.image_url)
            background |= {"attachment_id": image[0], "file_name": image[1]}
        return background

    async def remove(self, account: Account, chat_id: str) -> None:
        """Back to the default background."""
        if await self._imessage_chat(account, chat_id):
            await self._send(account, chat_id, None)

    async def current(self, account: Account, chat_id: str) -> dict[str, Any] | None:
        """The chat's applied background as ``chat.background_updated`` shows it."""
        async with self.storage.read() as repos:
            chat, _ = await chat_and_line(repos, account, chat_id)
            stored = await repos.chats.background(chat.id)
        return background_view(stored, self.attachments.links)

    async def _imessage_chat(self, account: Account, chat_id: str) -> bool:
        """Whether the chat can show a background (404, 409 and 403 / 2027 as for a send)."""
        async with self.storage.read() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
        require_usable(chat, line)
        return chat.service is Service.IMESSAGE

    async def _rehost(self, account: Account, url: str) -> tuple[str, str]:
        """Fetch the image and keep it as an attachment: (its id, its file name)."""
        try:
            image = await self.attachments.fetch(account, url, "image_url")
        except LinqError as error:
            if error.code in _NOT_FETCHED:
                raise LinqError(ErrorCode.IMAGE_DOWNLOAD_FAILED, error.message) from error
            if error.code in _NOT_AN_IMAGE:
                raise LinqError(ErrorCode.CONTENT_TYPE_MISMATCH, error.message) from error
            if error.code is ErrorCode.INVALID_MESSAGE_CONTENT:
                raise _refuse(error.message) from error
            raise
        if image.content_type not in PHOTO_TYPES:
            raise LinqError(
                ErrorCode.CONTENT_TYPE_MISMATCH,
                f"image_url is {image.content_type}; a background is a JPEG, PNG, HEIC or WebP",
            )
        return image.id, image.filename

    async def _send(
        self, account: Account, chat_id: str, background: dict[str, Any] | None
    ) -> None:
        async with self.storage.write() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            require_usable(chat, line)
            await self.actions.schedule(repos, chat, line, ACTION, {"background": background})
