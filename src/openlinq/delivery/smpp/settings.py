"""What an SMPP line needs to bind: the SMSC's address, the account and the addressing."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self, cast

BindMode = Literal["transceiver", "transmitter"]
BIND_TYPES: dict[str, str] = {"transceiver": "TRX", "transmitter": "TX"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class SmppSettings:
    """One line's SMPP account. ``password`` never appears in ``repr`` (logs, tracebacks).

    ``transmitter`` binds can only send: no receipts, no inbound messages (documented).
    """

    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset({"password"})

    host: str
    system_id: str
    password: str = field(repr=False)
    port: int = 2775
    tls: bool = False  # many SMSCs offer SMPP over TLS on another port (often 3550)
    system_type: str = ""
    source_ton: int = 1  # international
    source_npi: int = 1  # E.164
    dest_ton: int = 1
    dest_npi: int = 1
    bind_mode: BindMode = "transceiver"
    window_size: int = 10  # submit_sm PDUs in flight on the bind
    connect_timeout: float = 10.0
    reconnect_initial: float = 1.0  # backoff after a lost or refused bind, doubled up to
    reconnect_max: float = 60.0
    throttle_delay: float = 1.0  # wait after ESME_RTHROTTLED/ESME_RMSGQFUL, doubled per refusal
    throttle_retries: int = 5  # refusals in a row before the send job retries later
    registered_delivery: bool = True  # ask the SMSC for delivery receipts

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host is required")
        if self.bind_mode not in BIND_TYPES:
            raise ValueError(f"bind_mode must be one of {', '.join(BIND_TYPES)}")
        if not 0 < self.port < 65536:
            raise ValueError("port must be 1-65535")
        if self.window_size < 1:
            raise ValueError("window_size must be at least 1")
        if not all(0 <= v <= 255 for v in self._addressing()):
            raise ValueError("source/dest TON and NPI are 0-255")
        if len(self.system_id) > 15 or len(self.password) > 8 or len(self.system_type) > 12:
            # SMPP 3.4 sizes with the NUL: system_id 16, password 9, system_type 13 octets.
            raise ValueError("system_id is at most 15, password 8, system_type 12 characters")

    def _addressing(self) -> tuple[int, ...]:
        return (self.source_ton, self.source_npi, self.dest_ton, self.dest_npi)

    @property
    def bind_type(self) -> str:
        return BIND_TYPES[self.bind_mode]

    @property
    def receives(self) -> bool:
        return self.bind_mode == "transceiver"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Settings from stored JSON or CLI ``key=value`` strings; ValueError on anything off."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"unknown SMPP setting(s): {', '.join(unknown)}")
        missing = [n for n in ("host", "system_id", "password") if n not in data]
        if missing:
            raise ValueError(f"missing SMPP setting(s): {', '.join(missing)}")
        values = {name: _coerce(name, fields[name].type, value) for name, value in data.items()}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _coerce(name: str, kind: object, value: Any) -> Any:
    """The field's type from JSON or a CLI string (annotations are strings here)."""
    kind = str(kind)
    try:
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "bool":
            return _boolean(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be {'a number' if kind != 'bool' else 'true or false'}"
        ) from None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return cast(Any, value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ValueError
