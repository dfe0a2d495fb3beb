"""The stored form of app-card parts: ``imessage_app`` and ``app_clip`` (rules in §3.5)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from openlinq.domain.errors import ErrorCode, LinqError

MAX_URL_LENGTH = 2_048
MAX_DATA_URL = 16_384
MAX_LAYOUT_TEXT = 1_000
_TEAM_ID = re.compile(r"^[A-Z0-9]{10}$")
LAYOUT_TEXT = ("caption", "subcaption", "trailing_caption", "trailing_subcaption")
LAYOUT_FIELDS = (*LAYOUT_TEXT, "image_url", "image_title", "image_subtitle")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".heic", ".heif", ".webp")


def _invalid(message: str) -> LinqError:
    return LinqError(ErrorCode.INVALID_MESSAGE_CONTENT, message)


def _https(url: Any, field: str) -> str:
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise _invalid(f"{field} must be an https URL of at most {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise _invalid(f"{field} must be an absolute https URL")
    return url


def _text(value: Any, field: str) -> str | None:
    """A card's text field is a string or absent: anything else would be stored and then
    fail to render, so it is refused here whichever path the card came in by."""
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{field} must be a string")
    return value


def app_identity(app: dict[str, Any]) -> dict[str, Any]:
    bundle_id = _text(app.get("bundle_id"), "app.bundle_id")
    name = _text(app.get("name"), "app.name")
    team_id = _text(app.get("team_id"), "app.team_id")
    if not bundle_id or ":" in bundle_id or not name:
        raise _invalid("app needs a bundle_id (without ':') and a name")
    if team_id is None or not _TEAM_ID.match(team_id):
        raise _invalid("app.team_id is 10 upper-case letters or digits")
    app_store_id = app.get("app_store_id")
    if app_store_id is not None and (
        isinstance(app_store_id, bool) or not isinstance(app_store_id, int) or app_store_id < 0
    ):
        raise _invalid("app.app_store_id must be a non-negative integer")
    return {"bundle_id": bundle_id, "name": name, "team_id": team_id, "app_store_id": app_store_id}


def layout(raw: dict[str, Any]) -> dict[str, Any]:
    for field in LAYOUT_FIELDS:
        _text(raw.get(field), f"layout.{field}")
    if not any(raw.get(field) for field in (*LAYOUT_TEXT, "image_url")):
        raise _invalid("layout needs a caption, subcaption, trailing caption or image_url")
    if (raw.get("image_title") or raw.get("image_subtitle")) and not raw.get("image_url"):
        raise _invalid("layout.image_title and image_subtitle need an image_url")
    if raw.get("image_url"):
        image = _https(raw["image_url"], "layout.image_url")
        if not urlsplit(image).path.lower().endswith(IMAGE_EXTENSIONS):
            raise _invalid("layout.image_url must be a JPEG, PNG, HEIF or WebP image")
    return {field: raw.get(field) for field in LAYOUT_FIELDS}


def card_url(url: Any) -> str:
    if isinstance(url, str) and url.startswith("data:"):
        if len(url) > MAX_DATA_URL:
            raise _invalid(f"a data: url is at most {MAX_DATA_URL} characters")
        return url
    return _https(url, "url")


def imessage_app_part(part: dict[str, Any]) -> dict[str, Any]:
    shape = layout(part.get("layout") or {})
    return {
        "type": "imessage_app",
        "app": app_identity(part.get("app") or {}),
        "layout": shape,
        "url": card_url(part["url"]) if part.get("url") else "",
        "fallback_text": _text(part.get("fallback_text"), "fallback_text") or shape.get("caption"),
        "interactive": part.get("interactive", True) is not False,
    }


def app_clip_part(part: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "app_clip",
        "value": _https(part.get("value"), "value"),
        "caption": _text(part.get("caption"), "caption"),
        "title": None,
        "description": part.get("caption"),
        "image_url": None,
    }
