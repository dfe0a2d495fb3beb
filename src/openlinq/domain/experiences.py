"""Experiences: app cards rendered by Linq's iMessage app, invoked by name (§5.7).

A ``message.experience`` ``{name, action, params}`` is checked against the catalogue
(unknown experiences, actions and params are refused, a ``url`` field must be absolute
https) and stored as the ``imessage_app`` part it renders as, under Linq's app identity,
with the invocation kept beside it. ``agentpay``'s ``request_payment`` reads its amount
and reason from the payment request its ``checkout_url`` names, when the message is sent.
Cards travel over iMessage only (2018 / 4005, like any app card) and to one recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from openlinq.domain.card_parts import MAX_URL_LENGTH
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.models import Chat
from openlinq.store.repos import Repos
from openlinq.store.repos.payment_requests import StoredPaymentRequest

# The identity the simulated Linq iMessage app shows on every experience card.
LINQ_APP = {
    "bundle_id": "com.linqapp.experiences",
    "name": "Linq",
    "team_id": "LINQAPP000",
    "app_store_id": None,
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    type: str  # string | cents | int | url
    required: bool = False
    max: int | None = None


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    summary: str
    fields: dict[str, FieldSpec]
    # The url field the card opens, and the caption shown when no title is given.
    target: str
    default_caption: str


@dataclass(frozen=True, slots=True)
class Experience:
    name: str
    display_name: str
    actions: tuple[Action, ...]

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)


_TITLE = FieldSpec("string", max=80)
_NOTE = FieldSpec("string", max=200)
_URL = FieldSpec("url", required=True, max=MAX_URL_LENGTH)

CATALOGUE: tuple[Experience, ...] = (
    Experience(
        "agentpay",
        "Agent Pay",
        (
            Action(
                "request_payment",
                "A payment request the recipient pays in the app; the amount and reason "
                "are read from the payment request behind checkout_url.",
                {"checkout_url": _URL, "title": _TITLE, "note": _NOTE},
                "checkout_url",
                "Payment request",
            ),
        ),
    ),
    Experience(
        "agentcard",
        "Agent Card",
        (
            Action(
                "attach_card",
                "A prompt to add a card to the recipient's wallet.",
                {"attach_url": _URL, "title": _TITLE, "note": _NOTE},
                "attach_url",
                "Add a card",
            ),
            Action(
                "approve_card",
                "A passkey approval for a virtual card.",
                {"approval_url": _URL, "title": _TITLE, "note": _NOTE},
                "approval_url",
                "Approve a card",
            ),
        ),
    ),
    Experience(
        "link",
        "Link",
        (
            Action(
                "open",
                "A card that opens a URL you supply.",
                {"url": _URL, "title": _TITLE, "subtitle": _NOTE},
                "url",
                "Open link",
            ),
        ),
    ),
)
_BY_NAME = {e.name: e for e in CATALOGUE}


def _invalid(message: str) -> LinqError:
    return LinqError(ErrorCode.INVALID_MESSAGE_CONTENT, message)


def find(name: str) -> Experience:
    experience = _BY_NAME.get(name)
    if experience is None:
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"no experience {name!r}", http_status=404)
    return experience


def _field(field: str, spec: FieldSpec, value: Any) -> Any:
    where = f"experience.params.{field}"
    if spec.type in ("cents", "int"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _invalid(f"{where} must be a non-negative integer")
        return value
    if not isinstance(value, str) or not value:
        raise _invalid(f"{where} must be a non-empty string")
    if spec.max is not None and len(value) > spec.max:
        raise _invalid(f"{where} is at most {spec.max} characters")
    if spec.type == "url":
        parts = _split(value)
        if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
            raise _invalid(f"{where} must be an absolute https URL")
    return value


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal
        return None


def experience_part(raw: dict[str, Any]) -> dict[str, Any]:
    """Check an invocation against the catalogue; the card part it is sent as."""
    experience = _BY_NAME.get(raw.get("name") or "")
    if experience is None:
        known = ", ".join(sorted(_BY_NAME))
        raise _invalid(f"experience.name must be one of {known}")
    action = experience.action(raw.get("action") or "")
    if action is None:
        known = ", ".join(a.name for a in experience.actions)
        raise _invalid(f"experience.action of {experience.name} must be one of {known}")
    params = raw.get("params") or {}
    unknown = sorted(set(params) - set(action.fields))
    if unknown:
        raise _invalid(f"experience.params: {', '.join(unknown)} not accepted by {action.name}")
    checked: dict[str, Any] = {}
    for field, spec in action.fields.items():
        if params.get(field) is None:
            if spec.required:
                raise LinqError(
                    ErrorCode.MISSING_REQUIRED_FIELD, f"experience.params.{field} is required"
                )
            continue
        checked[field] = _field(field, spec, params[field])
    target = checked[action.target]
    own_checkout = experience.name == "agentpay"
    if not own_checkout and urlsplit(target).scheme != "https":
        # A checkout_url is resolved to a payment request (this server's own link, http in
        # local mode), not sent as a destination: only the other urls must be https.
        raise _invalid(f"experience.params.{action.target} must be an absolute https URL")
    subtitle = checked.get("note") or checked.get("subtitle")
    caption = checked.get("title") or action.default_caption
    return {
        "type": "imessage_app",
        "app": dict(LINQ_APP),
        "layout": _layout(caption=caption, subcaption=subtitle),
        "url": target,
        "fallback_text": caption,
        "interactive": True,
        "experience": {"name": experience.name, "action": action.name, "params": checked},
    }


def _layout(**given: str | None) -> dict[str, Any]:
    fields = ("caption", "subcaption", "trailing_caption", "trailing_subcaption")
    return {
        **{f: given.get(f) for f in fields},
        "image_url": None,
        "image_title": None,
        "image_subtitle": None,
    }


def is_experience(part: dict[str, Any]) -> bool:
    return part["type"] == "imessage_app" and "experience" in part


def checkout_session(url: str) -> str | None:
    """The session a checkout link carries (``/pay/{slug}?session=…``)."""
    parts = _split(url)
    if parts is None or "/pay/" not in parts.path:
        return None
    sessions = parse_qs(parts.query).get("session")
    return sessions[0] if sessions else None


async def bind_parts(
    repos: Repos, chat: Chat, parts: tuple[dict[str, Any], ...]
) -> tuple[dict[str, Any], ...]:
    """Resolve experience cards against the account at send time (one recipient each)."""
    if not any(is_experience(p) for p in parts):
        return parts
    if chat.is_group:
        raise LinqError(
            ErrorCode.GROUP_CHAT_NOT_SUPPORTED,
            "an experience goes to exactly one recipient: send it in a direct chat",
            retryable=False,
        )
    return tuple([await _bind(repos, chat, p) for p in parts])


async def _bind(repos: Repos, chat: Chat, part: dict[str, Any]) -> dict[str, Any]:
    invocation = part.get("experience") or {}
    if invocation.get("name") != "agentpay":
        return part
    url = invocation["params"]["checkout_url"]
    session = checkout_session(url)
    request = await repos.payment_requests.by_session(session) if session else None
    if request is None or request.account_id != chat.account_id:
        raise _invalid("checkout_url is not the checkout_url of one of your payment requests")
    if request.status != "requested":
        raise LinqError(
            ErrorCode.STATE_CONFLICT,
            f"the payment request behind checkout_url is {request.status}",
            retryable=False,
        )
    layout = dict(part["layout"])
    description = request.details.get("description")
    layout["subcaption"] = layout.get("subcaption") or description
    layout["trailing_caption"] = amount_label(request)
    return {
        **part,
        "layout": layout,
        "experience": {**invocation, "payment_request_id": request.id},
    }


def amount_label(request: StoredPaymentRequest) -> str:
    details = request.details
    label = f"${details['amount'] / 100:,.2f}"
    if details["mode"] == "subscription":
        count, interval = details["interval_count"], details["interval"]
        label += f"/{interval}" if count == 1 else f" every {count} {interval}s"
    return label
