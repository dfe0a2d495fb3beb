"""The API edge's error mapping: validation failures to contract codes, and the error body."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openlinq.api.errors import error_body, error_response, validation_error
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.tracing import reset_trace_id, set_trace_id

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def failure(kind: str, *loc: str | int, msg: str = "bad value") -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (failure("json_invalid", "body", 12, msg="JSON decode error"), 1003),
        (failure("json_type", "body"), 1003),
        (failure("model_attributes_type", "body"), 1003),  # a body that is not an object
        (failure("missing", "body"), 1003),  # no body at all
        (failure("missing", "body", "to"), 1001),
        (failure("missing", "body", "message", "parts"), 1001),  # missing wins over message
        (failure("missing", "query", "limit"), 1001),
        (failure("string_too_long", "body", "message", "parts", 0, "text", "value"), 1004),
        (failure("literal_error", "body", "message", "effect", "type"), 1004),
        (failure("union_tag_invalid", "body", "message", "parts", 0), 1004),
        (failure("string_type", "body", "from"), 1005),
        (failure("int_parsing", "query", "limit"), 1005),
        (failure("uuid_parsing", "path", "chatId"), 1005),
        (failure("bool_parsing", "body", "messages"), 1005),  # only "message" is content
    ],
)
def test_validation_failures_map_to_contract_codes(error: dict[str, Any], code: int) -> None:
    assert validation_error([error]).code.code == code


def test_only_the_first_failure_decides() -> None:
    errors = [failure("missing", "body", "to"), failure("json_invalid", "body", 3)]
    assert validation_error(errors).code is ErrorCode.MISSING_REQUIRED_FIELD


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            failure("string_too_long", "body", "message", "parts", 0, "text", "value", msg="long"),
            "message.parts[0].value: long",
        ),
        (failure("missing", "body", "to"), "to is required"),
        (failure("int_parsing", "query", "limit", msg="not int"), "limit: not int"),
        (failure("value_error", "body", "to", 2, msg="nope"), "to[2]: nope"),
        (
            failure("json_invalid", "body", 7, msg="Expecting value"),
            "request body: Expecting value",
        ),
        (failure("missing", "body"), "a JSON request body is required"),
    ],
)
def test_validation_messages_name_the_field(error: dict[str, Any], message: str) -> None:
    assert validation_error([error]).message == message


def test_every_validation_error_is_a_final_400() -> None:
    error = validation_error([failure("missing", "body", "to")])
    assert (error.http_status, error.retryable) == (400, False)


def test_error_body_shape() -> None:
    body = error_body(LinqError(ErrorCode.CHAT_NOT_FOUND), TRACE)
    assert body == {
        "success": False,
        "error": {
            "status": 404,
            "code": 2001,
            "message": "Chat not found",
            "doc_url": "https://docs.linqapp.com/error/codes/2xxx/2001/",
        },
        "trace_id": TRACE,
    }


def test_error_body_carries_retry_after_only_when_set() -> None:
    limited = error_body(LinqError(ErrorCode.RATE_LIMITED, "slow down", retry_after=7), TRACE)
    assert limited["error"]["retry_after"] == 7
    assert (limited["error"]["status"], limited["error"]["code"]) == (429, 1007)
    assert limited["error"]["message"] == "slow down"
    assert "retry_after" not in error_body(LinqError(ErrorCode.RATE_LIMITED), TRACE)["error"]


def test_error_body_uses_an_overridden_status() -> None:
    error = LinqError(ErrorCode.INVALID_PARAMETER, "no such endpoint", http_status=404)
    assert error_body(error, TRACE)["error"]["status"] == 404


@pytest.mark.parametrize(
    ("error", "should_retry", "retry_after"),
    [
        (LinqError(ErrorCode.INVALID_PARAMETER), "false", None),
        (LinqError(ErrorCode.RATE_LIMITED, retry_after=3), "true", "3"),
        (LinqError(ErrorCode.INTERNAL_ERROR), "true", None),
        (LinqError(ErrorCode.STATE_CONFLICT, retryable=True), "true", None),
    ],
)
def test_error_response_headers_and_trace(
    error: LinqError, should_retry: str, retry_after: str | None
) -> None:
    token = set_trace_id(TRACE)
    try:
        response = error_response(error)
    finally:
        reset_trace_id(token)
    assert response.status_code == error.http_status
    assert response.headers["x-should-retry"] == should_retry
    assert response.headers.get("retry-after") == retry_after
    assert json.loads(bytes(response.body)) == error_body(error, TRACE)


def test_an_error_quoting_an_unpaired_surrogate_still_renders() -> None:
    # A message may quote what a client sent; "\ud800" cannot be encoded as UTF-8.
    token = set_trace_id(TRACE)
    try:
        response = error_response(
            LinqError(ErrorCode.INVALID_PARAMETER, "to[0] '\ud800@x.com' is not valid")
        )
    finally:
        reset_trace_id(token)
    assert response.status_code == 400
    body = json.loads(bytes(response.body))
    assert body["error"]["message"] == "to[0] '\\ud800@x.com' is not valid"
