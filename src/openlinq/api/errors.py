"""The one place where failures become the Linq error body and an HTTP status."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.tracing import current_trace_id

log = logging.getLogger(__name__)

_STATUS_CODES = {
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.ACCESS_DENIED,
    404: ErrorCode.INVALID_PARAMETER,
    405: ErrorCode.INVALID_PARAMETER,
    413: ErrorCode.INVALID_REQUEST_BODY,
    415: ErrorCode.INVALID_REQUEST_BODY,
}


def printable(text: str) -> str:
    """``text`` as UTF-8 can carry it: an unpaired surrogate a client sent (and a message
    quotes) would make rendering the error itself fail."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(error: LinqError, trace_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": error.http_status,
        "code": error.code.code,
        "message": printable(error.message),
        "doc_url": error.code.doc_url,
    }
    if error.retry_after is not None:
        body["retry_after"] = error.retry_after
    return {"success": False, "error": body, "trace_id": trace_id}


def error_response(error: LinqError) -> JSONResponse:
    headers = {"x-should-retry": "true" if error.retryable else "false"}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(
        error_body(error, current_trace_id()), status_code=error.http_status, headers=headers
    )


def internal_error_response() -> JSONResponse:
    return error_response(LinqError(ErrorCode.INTERNAL_ERROR, retryable=True))


_PART_TAGS = frozenset({"text", "media", "link", "imessage_app", "app_clip"})


def _location(loc: Sequence[Any]) -> str:
    """``("body", "message", "parts", 0, "text", "value")`` -> ``message.parts[0].value``."""
    text = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif (part in ("body", "query", "path", "header") and not text) or (
            isinstance(previous, int) and part in _PART_TAGS
        ):
            pass  # the request section, or the union member pydantic names after an index
        else:
            text += f".{part}" if text else str(part)
        previous = part
    return text or "request"


def validation_error(errors: Sequence[dict[str, Any]]) -> LinqError:
    """Pick the contract code for the first validation failure.

    Malformed JSON or a body that is not an object is 1003, a missing field 1001,
    anything inside ``message`` 1004, and any other bad value 1005.
    """
    first = errors[0]
    loc = list(first.get("loc", ()))
    kind = first.get("type", "")
    where = _location(loc)
    detail = f"{where}: {first.get('msg', 'invalid')}"
    if kind in ("json_invalid", "json_type") or (loc == ["body"] and kind != "missing"):
        return LinqError(ErrorCode.INVALID_REQUEST_BODY, f"request body: {first.get('msg')}")
    if kind == "missing":
        if loc == ["body"]:
            return LinqError(ErrorCode.INVALID_REQUEST_BODY, "a JSON request body is required")
        return LinqError(ErrorCode.MISSING_REQUIRED_FIELD, f"{where} is required")
    if len(loc) > 1 and loc[0] == "body" and loc[1] == "message":
        return LinqError(ErrorCode.INVALID_MESSAGE_CONTENT, detail)
    return LinqError(ErrorCode.INVALID_PARAMETER, detail)


async def _on_linq_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LinqError)
    return error_response(exc)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(validation_error(list(exc.errors())))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, ErrorCode.INVALID_PARAMETER)
    message = exc.detail if isinstance(exc.detail, str) else code.default_message
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_response(LinqError(code, message, http_status=exc.status_code, retryable=False))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LinqError, _on_linq_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
