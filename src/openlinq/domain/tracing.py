"""The W3C trace id of the work in progress (a request, or a job it caused)."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

# version-trace_id-parent_id-flags; versions after 00 may append fields (W3C Trace Context §3.2).
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$")
_current: ContextVar[str | None] = ContextVar("openlinq_trace_id", default=None)


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


def trace_id_from_traceparent(header: str | None) -> str | None:
    """The trace id of a valid ``traceparent`` header.

    Invalid: version ``ff``, all-zero ids, and extra fields on version ``00``.
    """
    if not header:
        return None
    match = _TRACEPARENT.match(header.strip().lower())
    if not match:
        return None
    version, trace_id, parent_id, extra = match.groups()
    if version == "ff" or (version == "00" and extra):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return str(trace_id)


def current_trace_id() -> str:
    """The trace id in force, or a fresh one for work that has none."""
    return _current.get() or new_trace_id()


def trace_id_in_force() -> str | None:
    """The trace id of the request or job being handled, if any (for log lines)."""
    return _current.get()


def set_trace_id(trace_id: str | None) -> object:
    return _current.set(trace_id)


def reset_trace_id(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
