"""Simulated devices: what each recipient handle is and how it behaves.

A handle's device comes from an override set through the control API, else
from a magic number (``+1 NPA 555-01XX``, chosen by XX), else from the default:
an iPhone that delivers at once and never reads or replies (email handles are
iMessage-only). A device can also carry a conversation: scripted ``replies``,
``rules`` (regex → reply / reaction), opting out or going unreachable after N
messages, or a ``webhook_url`` that answers for it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from openlinq.domain.models import Service

_MAGIC = re.compile(r"^\+1\d{3}55501(\d{2})$")
IPHONE = frozenset({Service.IMESSAGE, Service.SMS})


TAPBACKS = ("love", "like", "dislike", "laugh", "emphasize", "question")
MAX_RULES = 100
# The codes chat.background_update_failed carries (the contract's WebhookErrorCode set).
BACKGROUND_FAILURES = (1005, 2011, 4001, 5002)
MAX_PATTERN = 500
# ``{text}`` (the received text), ``{0}`` / ``{1}``... (the match and its groups), ``{name}``
# (a named group); ``{{`` and ``}}`` are literal braces.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z0-9_]+)\}")


class Reply(StrEnum):
    NONE = "none"
    ECHO = "echo"
    STOP_FIRST = "stop_first"


@dataclass(frozen=True, slots=True)
class Rule:
    """``match`` (a regex, searched in the received text) → ``reply`` and/or ``react``.

    ``delay_seconds`` and ``typing`` default to the device's ``reply_after`` and ``typing``.
    """

    match: str
    reply: str | None = None
    ignore_case: bool = True
    delay_seconds: float | None = None
    typing: bool | None = None
    react: str | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Rule:
        """A rule from its JSON form; ``ValueError`` says what is wrong with it."""
        rule = cls(**raw)
        if not isinstance(rule.match, str) or not 0 < len(rule.match) <= MAX_PATTERN:
            raise ValueError(f"a rule's match must be a regex of 1 to {MAX_PATTERN} characters")
        try:
            pattern = rule.pattern()
        except re.error as exc:
            raise ValueError(f"rule match {rule.match!r} is not a valid regex: {exc}") from exc
        if rule.reply is None and rule.react is None:
            raise ValueError(f"rule {rule.match!r} needs a reply, a react or both")
        if rule.react is not None and rule.react not in TAPBACKS:
            raise ValueError(f"rule react must be one of {', '.join(TAPBACKS)}")
        if rule.reply is not None:
            _check_placeholders(rule.reply, pattern)
        return rule

    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.match, re.IGNORECASE if self.ignore_case else 0)

    def answer(self, text: str) -> str | None:
        """The reply to ``text`` when this rule matches it (``""`` when it only reacts)."""
        found = self.pattern().search(text)
        if found is None:
            return None
        return substitute(self.reply, text, found) if self.reply is not None else ""


def substitute(template: str, text: str, found: re.Match[str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        key = m.group(1)
        if key == "text":
            return text
        return (found.group(int(key)) if key.isdigit() else found.group(key)) or ""

    return _PLACEHOLDER.sub(one, template)


def _check_placeholders(template: str, pattern: re.Pattern[str]) -> None:
    for m in _PLACEHOLDER.finditer(template):
        key = m.group(1)
        if key is None or key == "text":
            continue
        known = int(key) <= pattern.groups if key.isdigit() else key in pattern.groupindex
        if not known:
            raise ValueError(f"reply placeholder {{{key}}} names no group of {pattern.pattern!r}")


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """A device model. Delays are seconds after the previous step."""

    name: str
    services: frozenset[Service]
    reachable: bool = True
    deliver_after: float = 0.0
    read_after: float | None = None
    typing: bool = False
    reply: Reply = Reply.NONE
    reply_after: float = 2.0
    react: str | None = None
    # Where the device is: it accepts location requests and shares this [lon, lat].
    location: tuple[float, float] | None = None
    # A scripted person: these replies in order, one per received message (then silence,
    # or from the first again with ``replies_loop``).
    replies: tuple[str, ...] = ()
    replies_loop: bool = False
    rules: tuple[Rule, ...] = ()  # the first match wins, before ``replies``
    opt_out_after: int | None = None  # replies STOP to the Nth message received
    unreachable_after: int | None = None  # sends fail once N messages were received
    webhook_url: str | None = None  # answers for the device (see carrier._ask_webhook)
    # Votes for option N (1 = the first) of each poll it receives, this long after reading
    # it (after delivery when it never reads).
    poll_vote: int | None = None
    poll_vote_after: float = 1.0
    # A chat background sent to this device fails with this code (chat.background_update_failed).
    fail_background: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["services"] = sorted(s.value for s in self.services)
        data["reply"] = self.reply.value
        data["location"] = list(self.location) if self.location else None
        data["replies"] = list(self.replies)
        data["rules"] = [asdict(rule) for rule in self.rules]
        return data

    @property
    def scripted(self) -> bool:
        """Whether the device does more than the fixed ``reply`` behaviour."""
        return bool(
            self.replies
            or self.rules
            or self.opt_out_after
            or self.unreachable_after
            or self.webhook_url
        )

    def with_overrides(self, overrides: dict[str, Any]) -> DeviceProfile:
        values = dict(overrides)
        if "services" in values:
            values["services"] = frozenset(Service(s) for s in values["services"])
        if "reply" in values:
            values["reply"] = Reply(values["reply"])
        if values.get("location") is not None:
            longitude, latitude = values["location"]
            values["location"] = (float(longitude), float(latitude))
        if "replies" in values:
            values["replies"] = tuple(str(r) for r in values["replies"])
        if values.get("fail_background") not in (None, *BACKGROUND_FAILURES):
            raise ValueError(f"fail_background must be one of {BACKGROUND_FAILURES}")
        if "rules" in values:
            if len(values["rules"]) > MAX_RULES:
                raise ValueError(f"a device has at most {MAX_RULES} rules")
            values["rules"] = tuple(Rule.parse(dict(r)) for r in values["rules"])
        return replace(self, **values)


PRESETS: dict[str, DeviceProfile] = {
    p.name: p
    for p in (
        DeviceProfile("iphone", IPHONE),
        DeviceProfile("email", frozenset({Service.IMESSAGE})),
        DeviceProfile("sms_only", frozenset({Service.SMS})),
        DeviceProfile("android", frozenset({Service.RCS, Service.SMS})),
        DeviceProfile("unreachable", IPHONE, reachable=False),
        DeviceProfile("reader", IPHONE, read_after=1.0),
        DeviceProfile("echo_bot", IPHONE, read_after=1.0, typing=True, reply=Reply.ECHO),
        DeviceProfile("stopper", IPHONE, reply=Reply.STOP_FIRST, reply_after=1.0),
        DeviceProfile("slow", IPHONE, deliver_after=5.0),
        DeviceProfile("reactor", IPHONE, react="love"),
    )
}

MAGIC_SUFFIXES: dict[str, str] = {
    "01": "sms_only",
    "02": "android",
    "03": "unreachable",
    "04": "reader",
    "05": "echo_bot",
    "06": "stopper",
    "07": "slow",
    "08": "reactor",
}


def builtin_profile(handle: str) -> DeviceProfile:
    """The device a handle has when nobody configured it."""
    if "@" in handle:
        return PRESETS["email"]
    match = _MAGIC.match(handle)
    if match and match.group(1) in MAGIC_SUFFIXES:
        return PRESETS[MAGIC_SUFFIXES[match.group(1)]]
    return PRESETS["iphone"]


def resolve_profile(handle: str, override: dict[str, Any] | None) -> DeviceProfile:
    """``override`` is ``{"preset": name, ...field overrides}`` as stored by the control API."""
    if not override:
        return builtin_profile(handle)
    fields = dict(override)
    preset = fields.pop("preset", None)
    base = PRESETS[preset] if preset else builtin_profile(handle)
    return base.with_overrides(fields)
