"""Message content: the rules on parts, effects and replies, and their stored form."""

from __future__ import annotations

import itertools
import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from openlinq.domain.card_parts import app_clip_part, imessage_app_part
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.experiences import experience_part
from openlinq.domain.ids import MessageId, is_uuid
from openlinq.domain.models import Effect, ReplyTo, Service
from openlinq.outbound import parse_url

MAX_PARTS = 100
MAX_URL_MEDIA = 40
MAX_TEXT_LENGTH = 10_000
MAX_URL_LENGTH = 2_048
MAX_IDEMPOTENCY_KEY = 255
MAX_INLINE_STICKERS = 100
# Far above what a person decorates in one bubble, low enough that checking them is cheap.
MAX_TEXT_DECORATIONS = 1_000
MAX_STICKER_IMAGES = 10
SOLO_PART_TYPES = frozenset({"link", "imessage_app", "app_clip"})

SCREEN_EFFECTS = frozenset(
    {
        "confetti",
        "fireworks",
        "lasers",
        "sparkles",
        "celebration",
        "hearts",
        "love",
        "balloons",
        "happy_birthday",
        "echo",
        "spotlight",
    }
)
BUBBLE_EFFECTS = frozenset({"slam", "loud", "gentle", "invisible"})

MEDIA_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".bmp": "image/bmp",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".m4v": "video/x-m4v",
    ".mpeg": "video/mpeg",
    ".mpg": "video/mpeg",
    ".3gp": "video/3gpp",
    ".m4a": "audio/x-m4a",
    ".mp3": "audio/mpeg",
    ".aac": "audio/aac",
    ".caf": "audio/x-caf",
    ".wav": "audio/x-wav",
    ".aiff": "audio/x-aiff",
    ".amr": "audio/amr",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".rtf": "text/rtf",
    ".csv": "text/csv",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".pages": "application/x-iwork-pages-sffpages",
    ".numbers": "application/x-iwork-numbers-sffnumbers",
    ".key": "application/x-iwork-keynote-sffkey",
    ".epub": "application/epub+zip",
    ".zip": "application/zip",
    ".html": "text/html",
    ".htm": "text/html",
    ".vcf": "text/vcard",
    ".ics": "text/calendar",
}

# What counts as "a URL inside a text part" for the first-message rule: explicit
# schemes, www. hosts, and bare domains on common top-level domains. Each pattern starts
# at a fixed token, so a search is linear in the text (a pattern that begins with an open
# run such as ``[a-z0-9-]+`` rescans the run from every start: seconds on 10,000 characters).
_URL_IN_TEXT = re.compile(
    r"(?i)(?:[a-z0-9+.-]://\S|\bwww\.\S|"
    r"[a-z0-9-]\.(?:com|net|org|io|co|app|dev|ai|me|ly|gg|xyz|info|biz|us|"
    r"uk|ca|de|fr|link|site|online|shop|store|tech)\b)"
)


@dataclass(frozen=True, slots=True)
class MessageContent:
    """A validated ``message`` object, as the domain sees it."""

    parts: tuple[dict[str, Any], ...]
    effect: Effect | None = None
    reply_to: ReplyTo | None = None
    preferred_service: Service | None = None
    idempotency_key: str | None = None
    # The request's override_optout flag travels with the content it applies to.
    override_optout: bool = False
    # A poll (domain/polls.py): its option texts; the message itself has no parts.
    poll_options: tuple[str, ...] | None = None

    @property
    def mentions(self) -> list[str]:
        return [p["mention"] for p in self.parts if p["type"] == "text" and p.get("mention")]

    @property
    def has_link(self) -> bool:
        """A ``link`` part, or any URL written inside a text part."""
        return any(
            p["type"] == "link" or (p["type"] == "text" and _URL_IN_TEXT.search(p["value"]))
            for p in self.parts
        )


def _content_error(message: str) -> LinqError:
    return LinqError(ErrorCode.INVALID_MESSAGE_CONTENT, message)


def build_content(message: dict[str, Any], *, override_optout: bool = False) -> MessageContent:
    """Check a ``message`` object (already type-checked at the edge) and normalise it."""
    return MessageContent(
        parts=_content_parts(message),
        effect=_effect(message.get("effect")),
        reply_to=_reply_to(message.get("reply_to")),
        preferred_service=Service(message["preferred_service"])
        if message.get("preferred_service")
        else None,
        idempotency_key=message.get("idempotency_key"),
        override_optout=override_optout,
    )


def _content_parts(message: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The parts, or the one card part an ``experience`` invocation is sent as."""
    parts = message.get("parts")
    if message.get("experience") is not None:
        if parts is not None:
            raise _content_error("message takes either parts or experience, not both")
        return (experience_part(message["experience"]),)
    if parts is None:
        raise LinqError(ErrorCode.MISSING_REQUIRED_FIELD, "message.parts is required")
    _check_part_list(parts)
    return tuple(_normalise_part(i, p) for i, p in enumerate(parts))


def _check_part_list(parts: list[dict[str, Any]]) -> None:
    if not parts:
        raise _content_error("message.parts needs at least one part")
    if len(parts) > MAX_PARTS:
        raise _content_error(f"a message has at most {MAX_PARTS} parts")
    solo = [p["type"] for p in parts if p["type"] in SOLO_PART_TYPES]
    if solo and len(parts) > 1:
        raise _content_error(f"a {solo[0]} part must be the only part of its message")
    for previous, current in itertools.pairwise(parts):
        if previous["type"] == current["type"] == "text":
            raise _content_error("two text parts cannot follow each other; join them")
    url_media = sum(1 for p in parts if p["type"] == "media" and p.get("url"))
    if url_media > MAX_URL_MEDIA:
        raise _content_error(f"a message carries at most {MAX_URL_MEDIA} media parts by URL")


def _normalise_part(index: int, part: dict[str, Any]) -> dict[str, Any]:
    kind = part["type"]
    if kind == "text":
        return _text_part(index, part)
    if kind == "media":
        return _media_part(index, part)
    if kind == "link":
        return {"type": "link", "value": check_url(part["value"], f"parts[{index}].value")}
    if kind == "imessage_app":
        return imessage_app_part(part)
    if kind == "app_clip":
        return app_clip_part(part)
    raise _content_error(f"parts[{index}]: unknown part type {kind!r}")


def _text_part(index: int, part: dict[str, Any]) -> dict[str, Any]:
    value: str = part["value"]
    if not value:
        raise _content_error(f"parts[{index}].value must not be empty")
    stored: dict[str, Any] = {"type": "text", "value": value}
    decorations = part.get("text_decorations")
    if decorations:
        stored["text_decorations"] = _check_decorations(index, value, decorations)
    if part.get("inline_stickers"):
        if part.get("mention"):
            raise _content_error(f"parts[{index}]: inline stickers cannot go with a mention")
        stored["inline_stickers"] = _check_stickers(
            index, value, part["inline_stickers"], stored.get("text_decorations", [])
        )
    if part.get("mention_range") is not None and not part.get("mention"):
        raise _content_error(f"parts[{index}].mention_range needs a mention")
    if part.get("mention"):
        stored["mention"] = part["mention"]
        stored["mention_range"] = _check_range(
            index, utf16_length(value), part.get("mention_range") or [0, utf16_length(value)]
        )
    return stored


def _splits_a_character(units: bytes, offset: int) -> bool:
    """Whether a UTF-16 offset falls between the two halves of a surrogate pair.

    ``units`` is the text encoded once as UTF-16-LE, not once per offset."""
    if not 0 < offset < len(units) // 2:
        return False
    unit = int.from_bytes(units[offset * 2 : offset * 2 + 2], "little")
    return 0xDC00 <= unit <= 0xDFFF


def _overlaps_an_exclusive_range(ranges: list[tuple[int, int, bool]]) -> bool:
    """Whether an exclusive range ``(start, end, True)`` overlaps any other range.

    Sorted once by start: a range overlaps an earlier one exactly when one of those
    ends past its start, so two running maxima decide it in O(n log n)."""
    furthest_end = furthest_exclusive_end = -1
    for start, end, exclusive in sorted(ranges):
        if furthest_exclusive_end > start or (exclusive and furthest_end > start):
            return True
        furthest_end = max(furthest_end, end)
        if exclusive:
            furthest_exclusive_end = max(furthest_exclusive_end, end)
    return False


def _check_stickers(
    index: int, value: str, stickers: list[dict[str, Any]], decorations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Inline stickers: ranges that split no character and overlap nothing, each with one
    image reference; at most 100 stickers and 10 distinct images per part."""
    if len(stickers) > MAX_INLINE_STICKERS:
        raise _content_error(f"parts[{index}]: at most {MAX_INLINE_STICKERS} inline stickers")
    checked: list[dict[str, Any]] = []
    units = value.encode("utf-16-le")
    for sticker in stickers:
        url, attachment_id = sticker.get("url"), sticker.get("attachment_id")
        if (url is None) == (attachment_id is None):
            raise _content_error(
                f"parts[{index}].inline_stickers: each takes exactly one of url or attachment_id"
            )
        bounds = _check_range(index, len(units) // 2, sticker["range"])
        if any(_splits_a_character(units, offset) for offset in bounds):
            raise _content_error(f"parts[{index}].inline_stickers: a range splits a character")
        reference = {"attachment_id": attachment_id} if attachment_id else {"url": url}
        checked.append({"range": bounds, **reference})
    taken = [(*s["range"], True) for s in checked] + [(*d["range"], False) for d in decorations]
    if _overlaps_an_exclusive_range(taken):
        raise _content_error(
            f"parts[{index}].inline_stickers: ranges cannot overlap each other or a decoration"
        )
    images = {s.get("attachment_id") or s.get("url") for s in checked}
    if len(images) > MAX_STICKER_IMAGES:
        raise _content_error(
            f"parts[{index}]: at most {MAX_STICKER_IMAGES} distinct sticker images"
        )
    return checked


def utf16_length(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def _check_range(index: int, length: int, bounds: list[int]) -> list[int]:
    start, end = bounds
    if not 0 <= start < end <= length:
        raise _content_error(
            f"parts[{index}]: range {bounds} must satisfy 0 <= start < end <= {length} "
            "(UTF-16 code units)"
        )
    return [start, end]


def _check_decorations(
    index: int, value: str, decorations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if len(decorations) > MAX_TEXT_DECORATIONS:
        raise _content_error(
            f"parts[{index}]: at most {MAX_TEXT_DECORATIONS} text decorations per part"
        )
    length = utf16_length(value)
    checked: list[dict[str, Any]] = []
    for decoration in decorations:
        has_style = decoration.get("style") is not None
        if has_style == (decoration.get("animation") is not None):
            raise _content_error(
                f"parts[{index}].text_decorations: each takes exactly one of style or animation"
            )
        bounds = _check_range(index, length, decoration["range"])
        key = "style" if has_style else "animation"
        checked.append({"range": bounds, key: decoration[key]})
    # Styles may overlap each other; an animation overlaps nothing.
    if _overlaps_an_exclusive_range([(*d["range"], "animation" in d) for d in checked]):
        raise _content_error(
            f"parts[{index}].text_decorations: an animation range cannot overlap another decoration"
        )
    return checked


def check_url(raw: str, field: str) -> str:
    if len(raw) > MAX_URL_LENGTH:
        raise _content_error(f"{field} is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(raw)
    except ValueError as exc:  # e.g. a broken IPv6 literal
        raise _content_error(f"{field} is not a valid URL") from exc
    schemes = ("http", "https")
    if parts.scheme.lower() not in schemes or not parts.netloc:
        raise _content_error(f"{field} must be an absolute http(s) URL")
    return raw


def _media_part(index: int, part: dict[str, Any]) -> dict[str, Any]:
    """A media part names an attachment or a URL; the attachment service resolves both."""
    url, attachment_id = part.get("url"), part.get("attachment_id")
    if (url is None) == (attachment_id is None):
        raise _content_error(f"parts[{index}] takes exactly one of url or attachment_id")
    sticker = bool(part.get("sticker"))
    if attachment_id is not None:
        return {"type": "media", "attachment_id": attachment_id, "sticker": sticker}
    parse_url(str(url), f"parts[{index}].url", ErrorCode.INVALID_MESSAGE_CONTENT)
    extension = posixpath.splitext(unquote(urlsplit(url).path))[1].lower()
    if extension and extension not in MEDIA_TYPES:
        raise LinqError(
            ErrorCode.INVALID_FILE_TYPE, f"parts[{index}].url: {extension} files are not supported"
        )
    return {"type": "media", "source_url": url, "sticker": sticker}


def _effect(raw: dict[str, Any] | None) -> Effect | None:
    if not raw:
        return None
    name, kind = raw.get("name"), raw.get("type")
    if not name:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "message.effect.name is required")
    actual = "screen" if name in SCREEN_EFFECTS else "bubble" if name in BUBBLE_EFFECTS else None
    if actual is None:
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"unknown effect {name!r}")
    if kind is not None and kind != actual:
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"effect {name!r} is a {actual} effect")
    return Effect(name=name, type=actual)


def _reply_to(raw: dict[str, Any] | None) -> ReplyTo | None:
    if not raw:
        return None
    message_id = raw["message_id"]
    if not is_uuid(message_id):
        raise LinqError(ErrorCode.MESSAGE_NOT_FOUND, "reply_to.message_id does not exist")
    return ReplyTo(MessageId(message_id), raw.get("part_index") or 0)
