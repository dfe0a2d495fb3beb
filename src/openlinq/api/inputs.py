"""The one check every request's text and numbers pass before any handler sees them.

Rules that hold for every field of every endpoint, so no schema or handler can forget
them and both database backends see the same input:

- no NUL character in the path, the query, a header or any JSON string (PostgreSQL
  cannot store one; SQLite would, so the backends would differ);
- no unpaired UTF-16 surrogate in a JSON string (it cannot be encoded as UTF-8: storing
  or echoing one fails);
- JSON numbers finite (``NaN``/``Infinity`` are not JSON, though Python's parser takes
  them) and integers within 64 bits (the database's integers);
- JSON nested at most ``MAX_JSON_DEPTH`` levels (deeper is refused as a malformed body).

A field under ``message`` answers 400 / 1004 (message content), anything else 400 / 1005,
too-deep or undecodable bodies 400 / 1003. Messages name the field, never echo the value.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlinq.api.errors import error_response
from openlinq.domain.errors import ErrorCode, LinqError

MAX_JSON_DEPTH = 32  # the contract's deepest shape is 6 levels
_INT64 = 2**63
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
# Binary uploads are not JSON; their size is checked as they stream in.
_NOT_JSON_PREFIXES = ("/uploads/",)


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be accepted as text, or None."""
    found = _BAD_TEXT.search(value)
    if found is None:
        return None
    return (
        "must not contain NUL characters"
        if found.group() == "\x00"
        else ("must not contain unpaired UTF-16 surrogates")
    )


def _where(path: tuple[str | int, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return (text or "request body")[:200]


def _refusal(path: tuple[str | int, ...], problem: str) -> LinqError:
    code = (
        ErrorCode.INVALID_MESSAGE_CONTENT
        if path[:1] == ("message",)
        else (ErrorCode.INVALID_PARAMETER)
    )
    return LinqError(code, f"{_where(path)}: {problem}")


def check_json(body: bytes) -> LinqError | None:
    """The first rule a JSON body breaks, or None (a syntax error is left to the parser)."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return None  # FastAPI answers it with its own message, 400 / 1003
    except RecursionError:
        return LinqError(ErrorCode.INVALID_REQUEST_BODY, "request body: nested too deeply")
    except ValueError as exc:  # not UTF-8, or an integer of thousands of digits
        return LinqError(ErrorCode.INVALID_REQUEST_BODY, f"request body: {exc}"[:200])
    # Iterative, so a deep document cannot exhaust the stack here either.
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            return LinqError(
                ErrorCode.INVALID_REQUEST_BODY,
                f"request body: nested more than {MAX_JSON_DEPTH} levels deep",
            )
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return _refusal(path, problem)
        elif isinstance(value, float):
            if not math.isfinite(value):
                return _refusal(path, "numbers must be finite")
        elif isinstance(value, int) and not isinstance(value, bool):
            if not -_INT64 <= value < _INT64:
                return _refusal(path, "integers must fit in 64 bits")
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    return _refusal(path, f"a field name {problem}")
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
    return None


def _url_problem(scope: Scope) -> LinqError | None:
    if "\x00" in scope["path"]:
        return LinqError(ErrorCode.INVALID_PARAMETER, "the path must not contain NUL characters")
    query = scope.get("query_string", b"").decode("latin-1")
    # Decoded as Starlette decodes it (UTF-8, undecodable bytes replaced).
    for key, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return LinqError(
                ErrorCode.INVALID_PARAMETER, f"query {key[:64]!r} must not contain NUL characters"
            )
    for name, value in scope.get("headers") or []:
        if b"\x00" in value:
            return LinqError(
                ErrorCode.INVALID_PARAMETER,
                f"header {name.decode('latin-1')[:64]} must not contain NUL characters",
            )
    return None


def _has_body(scope: Scope) -> bool:
    """Whether the request carries a body (HTTP/1.1: a length, or a transfer coding): most
    are GETs without one, with nothing to read and replay."""
    for name, value in scope.get("headers") or []:
        if (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding":
            return True
    return False


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse this request's body as JSON (no type counts as JSON)."""
    if scope["path"].startswith(_NOT_JSON_PREFIXES):
        return False
    content_type: bytes | None = dict(scope.get("headers") or []).get(b"content-type")
    if content_type is None:
        return True
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or media_type.endswith(b"+json")


class InputGuardMiddleware:
    """Refuses a request that breaks the rules above before the application sees it.

    A JSON body is read whole (the body limit outside bounds it) and replayed to the
    application unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _url_problem(scope)
        if problem is not None:
            await error_response(problem)(scope, receive, send)
            return
        if not _has_body(scope) or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = check_json(body) if body else None
        if problem is not None:
            await error_response(problem)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
