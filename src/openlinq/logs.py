"""The server's log output: lines a person reads (``text``) or one JSON object per line
(``json``) for log shippers.

Every record goes through one handler on the root logger, uvicorn's included, so a JSON
log has no stray plain-text lines. Structured fields passed with ``extra=`` (``method``,
``path``, ``status``, ``ms``, ``handle`` ...) become keys of the JSON object; the trace
id in force is added to every record that has none. Whatever is written is scrubbed of
API keys, webhook signing secrets and bearer tokens, in case a message ever carries one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from openlinq.domain.tracing import trace_id_in_force

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

# The attributes every LogRecord has; any other attribute came in through ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_SECRETS = re.compile(
    r"\b(olq|whsec)_[A-Za-z0-9+/=_-]{12,}|(?i:\b(bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
)
# Libraries whose INFO lines repeat what our own lines say, or print URLs with their
# query strings (where a webhook target may keep a token).
_QUIET = ("httpx", "httpcore", "alembic", "asyncio", "multipart")


def scrub(text: str) -> str:
    """``text`` with anything shaped like a credential masked."""
    return _SECRETS.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    if match.group(1):
        return f"{match.group(1)}_***"
    return f"{match.group(2)} ***"


class _TraceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            record.trace_id = trace_id_in_force()
        return True


class TextFormatter(logging.Formatter):
    """``2026-01-02 10:00:00 INFO  openlinq.access  GET /v3/chats 200 3.1 ms trace=…``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s  %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and value is not None and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) as ``fmt`` ("text" or "json").

    Raises ``ValueError`` for an unknown level or format (one line for the CLI to print).
    Calling it again replaces the previous set-up.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; choose text or json")
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}; choose debug, info, warning or error")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_TraceFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # uvicorn's loggers come through the root handler too (serving.py gives uvicorn no
    # logging configuration of its own).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))


def redact_url(url: str) -> str:
    """``url`` fit for a log line: no user:password, and query values masked (a webhook
    target may carry its token there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    query = "&".join(f"{key}=***" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
