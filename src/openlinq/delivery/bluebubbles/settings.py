"""A line's BlueBubbles settings: where its Mac's server is and its password."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

# The send job is retried with backoff for ~810 s (jobs/runner.py: 10 attempts, 2**n s
# apart, at most 300 s); a message must fail with 4004 before its last retry.
GIVE_UP_LIMIT = 780.0


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
    # Seconds a message waits for an unreachable Mac before it fails with 4004. At most
    # GIVE_UP_LIMIT: the send job's retries (jobs/runner.py backoff) must still reach it.
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
            give_up_after=_positive(data, "give_up_after", 600.0, GIVE_UP_LIMIT),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive(data: Mapping[str, Any], key: str, default: float, limit: float = 3600.0) -> float:
    raw = data.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"bluebubbles {key} must be a number of seconds") from None
    if not 0 < value <= limit:
        raise ValueError(f"bluebubbles {key} must be between 0 and {limit:g} seconds")
    return value


def _flag(data: Mapping[str, Any], key: str) -> bool:
    raw = data.get(key, False)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "false", "0", "no"):
        return raw.lower() in ("true", "1", "yes")
    raise ValueError(f"bluebubbles {key} must be true or false")
