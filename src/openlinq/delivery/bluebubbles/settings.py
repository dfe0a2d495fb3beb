"""A line's BlueBubbles settings: where its Mac's server is and its password."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class BlueBubblesSettings:
    """``url`` is the BlueBubbles server's base URL (``http://mac.local:1234``); ``password``
    its server password (sent as the ``password`` query parameter, as its REST API requires).

    Secrets stay out of ``repr`` so a logged settings object shows no credential.
    """

    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset({"password"})

    url: str
    password: str = field(repr=False)
    # Seconds one REST call may take: an AppleScript send can take several seconds.
    timeout: float = 15.0
    # The Mac's iPhone forwards SMS (Text Message Forwarding): phone numbers that are not
    # on iMessage can still be reached, on SMS.
    sms_forwarding: bool = False
    # Seconds a message waits for an unreachable Mac before it fails with 4004.
    give_up_after: float = 600.0

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown bluebubbles setting(s): {', '.join(unknown)}")
        for required in ("url", "password"):
            if not isinstance(data.get(required), str) or not data[required]:
                raise ValueError(f"bluebubbles needs {required} (a non-empty string)")
        parsed = urlsplit(data["url"])
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("bluebubbles url must be an absolute http:// or https:// URL")
        if parsed.query or parsed.fragment:
            raise ValueError("bluebubbles url takes no query or fragment")
        return cls(
            url=data["url"],
            password=data["password"],
            timeout=_positive(data, "timeout", 15.0),
            sms_forwarding=_flag(data, "sms_forwarding"),
            give_up_after=_positive(data, "give_up_after", 600.0),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive(data: Mapping[str, Any], key: str, default: float) -> float:
    raw = data.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"bluebubbles {key} must be a number of seconds") from None
    if not 0 < value < 86_400 * 7:
        raise ValueError(f"bluebubbles {key} must be positive (seconds, under a week)")
    return value


def _flag(data: Mapping[str, Any], key: str) -> bool:
    raw = data.get(key, False)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "false", "0", "no"):
        return raw.lower() in ("true", "1", "yes")
    raise ValueError(f"bluebubbles {key} must be true or false")
