"""logs.py: the text and JSON formats, the trace id on every line, credentials masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from openlinq.config import Settings
from openlinq.domain.tracing import reset_trace_id, set_trace_id
from openlinq.logs import configure_logging, redact_url, scrub


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    uvicorn = logging.getLogger("uvicorn")
    uvicorn_state = (uvicorn.handlers[:], uvicorn.propagate)
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "alembic")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    uvicorn.handlers[:], uvicorn.propagate = uvicorn_state
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


def test_json_lines_carry_time_level_logger_message_fields_and_trace(
    restored_logging: None,
) -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    token = set_trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
    try:
        logging.getLogger("openlinq.test").info(
            "GET /x 200", extra={"method": "GET", "status": 200, "ms": 1.5}
        )
    finally:
        reset_trace_id(token)
    logging.getLogger("openlinq.test").debug("below the level")

    (line,) = out.getvalue().splitlines()
    entry = json.loads(line)
    assert entry.pop("time").endswith("+00:00")
    assert entry == {
        "level": "INFO",
        "logger": "openlinq.test",
        "message": "GET /x 200",
        "method": "GET",
        "status": 200,
        "ms": 1.5,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    }


def test_text_lines_are_one_readable_line(restored_logging: None) -> None:
    out = io.StringIO()
    configure_logging("warning", "text", stream=out)
    logging.getLogger("openlinq.test").info("not shown")
    logging.getLogger("openlinq.test").warning("→ %s failed", "+14155550103")
    (line,) = out.getvalue().splitlines()
    assert line.endswith(" WARNING openlinq.test  → +14155550103 failed")


def test_uvicorn_lines_go_through_the_same_handler(restored_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    logging.getLogger("uvicorn.error").warning("a uvicorn warning")
    assert json.loads(out.getvalue())["logger"] == "uvicorn.error"


def test_library_chatter_that_prints_urls_is_quieted(restored_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "text", stream=out)
    logging.getLogger("httpx").info("HTTP Request: POST https://h/hook?token=x")
    assert out.getvalue() == ""


def test_an_unknown_level_or_format_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown log format 'xml'; choose text or json"):
        configure_logging("info", "xml")
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        configure_logging("loud", "text")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key olq_8K9Dq0mruOIFa6d3iSIHBLMLiMmBxJe2y2vk", "key olq_***"),
        ("secret whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=", "secret whsec_***"),
        ("Authorization: Bearer abcdefgh12345678", "Authorization: Bearer ***"),
        ("cookie olq_console is a name, not a key", "cookie olq_console is a name, not a key"),
    ],
)
def test_credentials_are_masked_wherever_they_appear(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://user:pw@hooks.example.com/in?token=abc&v=2",
            "https://hooks.example.com/in?token=***&v=***",
        ),
        ("http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook"),
        ("http://[::1]:9000/hook", "http://[::1]:9000/hook"),
    ],
)
def test_urls_are_logged_without_credentials_or_query_values(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_the_access_log_is_on_locally_and_off_by_default_in_hosted_mode() -> None:
    assert Settings().access_log_enabled
    assert not Settings(hosted_mode=True).access_log_enabled
    assert Settings(hosted_mode=True, access_log=True).access_log_enabled
    assert not Settings(access_log=False).access_log_enabled
