"""Every webhook event type of the contract, and the payload versions."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

from openlinq.domain.errors import ErrorCode, LinqError

V2025 = "2025-01-01"
V2026 = "2026-02-03"
VERSIONS = (V2025, V2026)
CURRENT_VERSION = V2026
EVENTS_DOC_URL = "https://docs.linqapp.com/channel/imessage/guides/webhooks/events"

# Delivered only to subscriptions on the newer payload version.
V2026_ONLY = frozenset({"message.edited"})

EVENT_TYPES: tuple[str, ...] = (
    "message.sent",
    "message.received",
    "message.read",
    "message.delivered",
    "message.failed",
    "message.edited",
    "reaction.added",
    "reaction.removed",
    "poll.received",
    "poll.failed",
    "poll.sent",
    "poll.delivered",
    "poll.read",
    "poll.updated",
    "poll.vote.added",
    "poll.vote.removed",
    "poll.reaction.added",
    "participant.added",
    "participant.removed",
    "chat.created",
    "chat.group_name_updated",
    "chat.group_icon_updated",
    "chat.group_name_update_failed",
    "chat.group_icon_update_failed",
    "chat.background_updated",
    "chat.background_update_failed",
    "chat.typing_indicator.started",
    "chat.typing_indicator.stopped",
    "phone_number.status_updated",
    "phone_number.assigned",
    "phone_number.released",
    "contact_card.received",
    "call.initiated",
    "call.ringing",
    "call.answered",
    "call.ended",
    "call.failed",
    "call.declined",
    "call.no_answer",
    "location.sharing.started",
    "location.sharing.stopped",
    "payment.succeeded",
    "payment.canceled",
    "payment.expired",
    "payment.declined",
    "payment.authorized",
    "connection.created",
    "connection.revoked",
    "zero_day_retention.updated",
    "phone_number.forwarding_updated",
    "environment.line_moved",
    "contact_card.created",
    "contact_card.updated",
    "contact_card.deleted",
    "api_token.created",
    "api_token.renamed",
    "api_token.expiry_scheduled",
    "api_token.expired",
    "api_token.activated",
    "api_token.deleted",
    "environment.created",
    "environment.renamed",
    "environment.deleted",
    "webhook_subscription.created",
    "webhook_subscription.deleted",
    "webhook_subscription.target_url_changed",
    "webhook_subscription.enabled",
    "webhook_subscription.disabled",
    "webhook_subscription.events.updated",
    "webhook_subscription.phone_numbers.updated",
    "webhook_subscription.routing_headers_set",
    "webhook_subscription.routing_headers_cleared",
    "team_member.added",
    "team_member.signed_in",
    "team_member.signed_out",
)
# Named by the platform's FAQ, absent from the SDK's WebhookEventType: subscriptions
# accept them, GET /v3/webhook-events does not list them (the SDK's strict validation
# of that list would refuse them).
UNLISTED_EVENT_TYPES: tuple[str, ...] = ("message.opt_in", "message.opt_out")
EVENT_TYPE_SET = frozenset(EVENT_TYPES + UNLISTED_EVENT_TYPES)


def version_for(requested: str | None) -> str | None:
    """The payload version a ``?version=`` date selects: the newest one on or before it.

    No date means the current version. A date before the first version, or one
    that is not a date, selects nothing (the caller rejects it).
    """
    if requested is None:
        return CURRENT_VERSION
    try:
        wanted = date.fromisoformat(requested)
    except ValueError:
        return None
    eligible = [v for v in VERSIONS if date.fromisoformat(v) <= wanted]
    return eligible[-1] if eligible else None


def payload_version(target_url: str) -> str:
    """The version a subscription's ``?version=`` selects; 400 for an unusable one."""
    values = parse_qs(urlsplit(target_url).query).get("version")
    version = version_for(values[0] if values else None)
    if version is None:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            "target_url ?version= must be a date (YYYY-MM-DD) on or after 2025-01-01",
        )
    return version
