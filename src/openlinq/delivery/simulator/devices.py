"""Simulated devices: what each recipient handle is and how it behaves.

A handle's device comes from an override set through the control API, else
from a magic number (``+1 NPA 555-01XX``, chosen by XX), else from the default:
an iPhone that delivers at once and never reads or replies (email handles are
iMessage-only).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from openlinq.domain.models import Service

_MAGIC = re.compile(r"^\+1\d{3}55501(\d{2})$")
IPHONE = frozenset({Service.IMESSAGE, Service.SMS})


class Reply(StrEnum):
    NONE = "none"
    ECHO = "echo"
    STOP_FIRST = "stop_first"


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

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["services"] = sorted(s.value for s in self.services)
        data["reply"] = self.reply.value
        data["location"] = list(self.location) if self.location else None
        return data

    def with_overrides(self, overrides: dict[str, Any]) -> DeviceProfile:
        values = dict(overrides)
        if "services" in values:
            values["services"] = frozenset(Service(s) for s in values["services"])
        if "reply" in values:
            values["reply"] = Reply(values["reply"])
        if values.get("location") is not None:
            longitude, latitude = values["location"]
            values["location"] = (float(longitude), float(latitude))
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
