"""Every endpoint of the API, with a valid request to start each attack from.

``$name`` strings are filled in from the shared world (conftest.py). The suite
mutates these requests: a body place, a path parameter, a query parameter or a
header replaced by something hostile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str  # path template: {name} is filled from ``path``
    path: dict[str, str] = field(default_factory=dict)
    bodies: tuple[Any, ...] = ()  # valid JSON bodies; one is mutated per example
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()
    raw_body: bool = False  # the body is file bytes, not JSON

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"


def _text(value: str, **extra: Any) -> dict[str, Any]:
    return {"parts": [{"type": "text", "value": value, **extra}]}


CONTENTS: tuple[dict[str, Any], ...] = (
    _text("hello world", text_decorations=[{"range": [0, 5], "style": "bold"}]),
    {**_text("effects"), "effect": {"type": "screen", "name": "confetti"}},
    {**_text("a reply"), "reply_to": {"message_id": "$message", "part_index": 0}},
    {"parts": [{"type": "media", "attachment_id": "$attachment"}]},
    {"parts": [{"type": "link", "value": "https://example.com/page"}]},
    {
        "parts": [
            {
                "type": "imessage_app",
                "app": {
                    "name": "App",
                    "bundle_id": "com.example.app",
                    "team_id": "ABCDE12345",
                    "app_store_id": 123,
                },
                "layout": {"caption": "Caption", "subcaption": "Sub"},
                "url": "https://example.com/card",
                "fallback_text": "a card",
            }
        ]
    },
    {"parts": [{"type": "app_clip", "value": "https://appclip.apple.com/id?p=x", "caption": "c"}]},
    {**_text("keyed"), "preferred_service": "iMessage", "idempotency_key": "adv-key"},
)

CHAT = {"chat_id": "$chat"}
GROUP = {"chat_id": "$group"}
PAGE: Params = (("limit", "5"), ("cursor", "$cursor"))

V3: list[Endpoint] = [
    Endpoint(
        "POST",
        "/v3/chats",
        bodies=tuple({"from": "$line", "to": ["$handle"], "message": c} for c in CONTENTS[:4]),
    ),
    Endpoint("GET", "/v3/chats", params=(("from", "$line"), ("to", "$handle"), *PAGE)),
    Endpoint("GET", "/v3/chats/{chat_id}", CHAT),
    Endpoint("PUT", "/v3/chats/{chat_id}", GROUP, bodies=({"display_name": "Team"},)),
    Endpoint("POST", "/v3/chats/{chat_id}/read", CHAT),
    Endpoint("GET", "/v3/chats/{chat_id}/messages", CHAT, params=PAGE),
    Endpoint(
        "POST",
        "/v3/chats/{chat_id}/messages",
        CHAT,
        bodies=tuple({"message": c} for c in CONTENTS),
    ),
    Endpoint("POST", "/v3/chats/{chat_id}/participants", GROUP, bodies=({"handle": "$other"},)),
    Endpoint("DELETE", "/v3/chats/{chat_id}/participants", GROUP, bodies=({"handle": "$other"},)),
    Endpoint(
        "DELETE",
        "/v3/chats/{chat_id}/participants/{handle}",
        {"chat_id": "$group", "handle": "$other"},
    ),
    Endpoint("POST", "/v3/chats/{chat_id}/leave", {"chat_id": "$doomed_group"}),
    Endpoint("POST", "/v3/chats/{chat_id}/typing", CHAT),
    Endpoint("DELETE", "/v3/chats/{chat_id}/typing", CHAT),
    Endpoint(
        "POST",
        "/v3/chats/{chat_id}/voicememo",
        CHAT,
        bodies=(
            {"attachment_id": "$audio"},
            {"voice_memo_url": "http://127.0.0.1:9/memo.m4a"},
        ),
    ),
    Endpoint("POST", "/v3/chats/{chat_id}/share_contact_card", CHAT),
    Endpoint("GET", "/v3/chats/{chat_id}/location", CHAT),
    Endpoint("POST", "/v3/chats/{chat_id}/location/request", CHAT),
    Endpoint("DELETE", "/v3/chats/{chat_id}/location", CHAT, bodies=({"handle": "$handle"},)),
    Endpoint(
        "POST",
        "/v3/messages",
        bodies=(
            *({"to": ["$handle"], "message": c} for c in CONTENTS[:5]),
            {
                "to": ["$handle"],
                "message": _text("hi"),
                "continuation_message": {"text": "more"},
                "exclude_from": ["$line2"],
            },
        ),
        headers=(("Idempotency-Key", "adv-header-key"),),
    ),
    Endpoint("GET", "/v3/messages/{message_id}", {"message_id": "$message"}),
    Endpoint("GET", "/v3/messages/{message_id}/thread", {"message_id": "$message"}, params=PAGE),
    Endpoint(
        "PATCH",
        "/v3/messages/{message_id}",
        {"message_id": "$message"},
        bodies=({"text": "edited", "part_index": 0},),
    ),
    Endpoint("DELETE", "/v3/messages/{message_id}", {"message_id": "$doomed_message"}),
    Endpoint(
        "POST",
        "/v3/messages/{message_id}/reactions",
        {"message_id": "$inbound"},
        bodies=(
            {"operation": "add", "type": "love", "part_index": 0},
            {"operation": "add", "type": "custom", "custom_emoji": "🎉"},
            {
                "operation": "add",
                "type": "sticker",
                "attachment_id": "$attachment",
                "placement": {"x": 0.5, "y": -0.5, "scale": 1.0, "rotation": 0.0},
            },
        ),
    ),
    Endpoint(
        "POST",
        "/v3/messages/{message_id}/update",
        {"message_id": "$app_message"},
        bodies=(
            {
                "layout": {"caption": "new"},
                "fallback_text": "f",
                "app": {"bundle_id": "com.example.app", "name": "App", "team_id": "ABCDE12345"},
            },
        ),
    ),
    Endpoint(
        "POST",
        "/v3/attachments",
        bodies=({"filename": "a.png", "content_type": "image/png", "size_bytes": 100},),
    ),
    Endpoint("GET", "/v3/attachments/{attachment_id}", {"attachment_id": "$attachment"}),
    Endpoint("DELETE", "/v3/attachments/{attachment_id}", {"attachment_id": "$doomed_attachment"}),
    Endpoint("GET", "/v3/phone_numbers"),
    Endpoint(
        "PUT",
        "/v3/phone_numbers/{phone_number_id}",
        {"phone_number_id": "$phone_id"},
        bodies=({"forwarding_number": "+14155550000"}, {"forwarding_number": None}),
    ),
    Endpoint(
        "POST",
        "/v3/phone_numbers/{phone_number}/reputation_audit",
        {"phone_number": "$line2"},
    ),
    Endpoint(
        "GET",
        "/v3/phone_numbers/{phone_number}/reputation_audit/{audit_id}",
        {"phone_number": "$line", "audit_id": "$audit"},
    ),
    Endpoint("GET", "/v3/phonenumbers"),
    Endpoint(
        "GET",
        "/v3/available_number",
        params=(("to", "$handle"), ("exclude_from", "$line2"), ("type", "iMessage")),
    ),
    Endpoint("POST", "/v3/capability/check_imessage", bodies=({"handle": "$handle"},)),
    Endpoint("POST", "/v3/capability/check_rcs", bodies=({"handle": "$handle"},)),
    Endpoint(
        "POST",
        "/v3/contact_card",
        bodies=(
            {
                "phone_number": "$line",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "image_url": "https://example.com/ada.png",
            },
        ),
    ),
    Endpoint("GET", "/v3/contact_card", params=(("phone_number", "$line"),)),
    Endpoint(
        "PATCH",
        "/v3/contact_card",
        params=(("phone_number", "$line"),),
        bodies=({"first_name": "Grace", "last_name": None},),
    ),
    Endpoint("GET", "/v3/webhook-events"),
    Endpoint(
        "POST",
        "/v3/webhook-subscriptions",
        bodies=(
            {
                "target_url": "http://127.0.0.1:9/new",
                "subscribed_events": ["message.sent", "message.received"],
                "phone_numbers": ["$line"],
                "routing_key_header": "X-Route",
                "routing_id_header": "X-Route-Id",
            },
        ),
    ),
    Endpoint("GET", "/v3/webhook-subscriptions"),
    Endpoint(
        "GET", "/v3/webhook-subscriptions/{subscription_id}", {"subscription_id": "$subscription"}
    ),
    Endpoint(
        "PUT",
        "/v3/webhook-subscriptions/{subscription_id}",
        {"subscription_id": "$subscription"},
        bodies=(
            {
                "target_url": "http://127.0.0.1:9/hook",
                "subscribed_events": ["message.sent", "chat.created"],
                "is_active": True,
                "phone_numbers": None,
            },
        ),
    ),
    Endpoint(
        "DELETE",
        "/v3/webhook-subscriptions/{subscription_id}",
        {"subscription_id": "$doomed_subscription"},
    ),
    Endpoint(
        "GET",
        "/v3/webhook-subscriptions/{subscription_id}/deliveries",
        {"subscription_id": "$subscription"},
        params=(("event_type", "message.sent"), ("status", "failed"), ("limit", "5")),
    ),
    Endpoint(
        "POST",
        "/v3/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/retry",
        {"subscription_id": "$subscription", "delivery_id": "$delivery"},
    ),
    Endpoint(
        "POST",
        "/v3/webhook-subscriptions/{subscription_id}/recover",
        {"subscription_id": "$subscription"},
        bodies=({"since": "2024-01-01T00:00:00Z"},),
    ),
    Endpoint("GET", "/v3/blocked_handles"),
    Endpoint("POST", "/v3/blocked_handles", bodies=({"handle": "+14155550999", "reason": "r"},)),
    Endpoint("DELETE", "/v3/blocked_handles", bodies=({"handle": "+14155550999"},)),
    Endpoint(
        "POST",
        "/v3/chats/{chat_id}/background",
        CHAT,
        bodies=(
            {"type": "color", "variant": "mango"},
            {"type": "dynamic", "style": "sky", "variant": "dusk"},
        ),
    ),
    Endpoint("DELETE", "/v3/chats/{chat_id}/background", CHAT),
    Endpoint(
        "PATCH",
        "/v3/messages/{message_id}/reactions/{reaction_id}",
        {"message_id": "$inbound", "reaction_id": "$message"},  # not a reaction: 404
        bodies=({"placement": {"x": 0.5, "scale": 1.0}},),
    ),
]

DEVICE = {"handle": "$handle"}

SIM: list[Endpoint] = [
    Endpoint("GET", "/sim/v1/devices/{handle}", DEVICE),
    Endpoint(
        "PUT",
        "/sim/v1/devices/{handle}",
        {"handle": "$other"},
        bodies=(
            {
                "preset": "iphone",
                "services": ["iMessage", "SMS"],
                "reachable": True,
                "deliver_after": 0,
                "read_after": 1,
                "typing": False,
                "reply": "none",
                "reply_after": 2,
                "react": None,
                "location": [37.0, -122.0],
            },
        ),
    ),
    Endpoint("DELETE", "/sim/v1/devices/{handle}", {"handle": "$other"}),
    Endpoint(
        "POST",
        "/sim/v1/devices/{handle}/messages",
        DEVICE,
        bodies=(
            {"to": "$line", "text": "hello"},
            {"chat_id": "$chat", "text": "in chat", "reply_to": "$message"},
            {"to": "$line", "parts": [{"type": "text", "value": "parts"}]},
            {"to": "$line", "parts": [{"type": "link", "value": "https://example.com/"}]},
            {"to": "$line", "parts": [{"type": "media", "attachment_id": "$attachment"}]},
        ),
    ),
    Endpoint(
        "POST",
        "/sim/v1/devices/{handle}/reactions",
        DEVICE,
        bodies=(
            {"operation": "add", "message_id": "$message", "type": "love", "part_index": 0},
            {"message_id": "$message", "type": "custom", "custom_emoji": "🎉"},
        ),
    ),
    Endpoint("POST", "/sim/v1/devices/{handle}/read", DEVICE, bodies=({"chat_id": "$chat"},)),
    Endpoint(
        "POST",
        "/sim/v1/devices/{handle}/typing",
        DEVICE,
        bodies=({"chat_id": "$chat", "state": "started"},),
    ),
    Endpoint("GET", "/sim/v1/devices/{handle}/screen", DEVICE),
    Endpoint(
        "POST",
        "/sim/v1/devices/{handle}/location",
        DEVICE,
        bodies=(
            {
                "to": "$line",
                "longitude": -122.4,
                "latitude": 37.7,
                "altitude": 10.0,
                "address": "1 Main St",
                "locality": "SF",
                "duration_seconds": 60,
            },
        ),
    ),
    Endpoint("DELETE", "/sim/v1/devices/{handle}/location", DEVICE, params=(("to", "$line"),)),
    Endpoint("GET", "/sim/v1/clock"),
    Endpoint("POST", "/sim/v1/clock/advance", bodies=({"seconds": 0},)),
    Endpoint("POST", "/sim/v1/jobs/run"),
    Endpoint("GET", "/sim/v1/events", params=(("limit", "5"),)),
    Endpoint("GET", "/sim/v1/dropped", params=(("limit", "5"),)),
    Endpoint(
        "POST",
        "/sim/v1/devices/{handle}/background",
        DEVICE,
        bodies=({"chat_id": "$chat", "type": "color", "variant": "ice"},),
    ),
    Endpoint(
        "PUT",
        "/sim/v1/lines/{phone_number}",
        {"phone_number": "$line2"},
        bodies=({"status": "ACTIVE"},),
    ),
]

SYSTEM: list[Endpoint] = [
    Endpoint("GET", "/health"),
    Endpoint(
        "PUT",
        "/uploads/{attachment_id}",
        {"attachment_id": "$upload_id"},
        params=(("expires", "$upload_expires"), ("sig", "$upload_sig")),
        headers=(("Content-Type", "image/png"),),
        raw_body=True,
    ),
    Endpoint(
        "GET",
        "/files/{attachment_id}/{filename}",
        {"attachment_id": "$download_id", "filename": "$download_name"},
        params=(("sig", "$download_sig"),),  # a stable link: no expiry
    ),
    Endpoint("GET", "/vcards/{line_id}.vcf", {"line_id": "$phone_id"}, params=(("sig", "x"),)),
]
