"""The pure rules, one by one: no server, no database."""

from __future__ import annotations

import pytest

from openlinq.api.errors import validation_error
from openlinq.delivery.simulator.devices import PRESETS, builtin_profile, resolve_profile
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.handles import parse_handle, parse_recipients
from openlinq.domain.health import assess
from openlinq.domain.models import ChatHealth, DeliveryStatus, Direction, Service
from openlinq.domain.optout import opt_out_keyword
from openlinq.domain.parts import build_content
from openlinq.domain.routing import select_service
from openlinq.domain.sniffing import check_content
from openlinq.domain.tracing import trace_id_from_traceparent

IM, RCS, SMS = Service.IMESSAGE, Service.RCS, Service.SMS
IPHONE, ANDROID, FLIP = frozenset({IM, SMS}), frozenset({RCS, SMS}), frozenset({SMS})
FULL_LINE = frozenset({IM, RCS, SMS})


@pytest.mark.parametrize(
    ("preferred", "recipients", "line", "service", "deliverable"),
    [
        (None, [IPHONE], FULL_LINE, IM, True),
        (None, [ANDROID], FULL_LINE, RCS, True),
        (None, [FLIP], FULL_LINE, SMS, True),
        (None, [IPHONE, ANDROID], FULL_LINE, SMS, True),  # a group: the best common service
        (None, [ANDROID], frozenset({IM, SMS}), SMS, True),  # a line without RCS
        (IM, [FLIP], FULL_LINE, IM, False),  # iMessage or nothing
        (RCS, [IPHONE], FULL_LINE, SMS, True),  # never iMessage
        (SMS, [ANDROID], FULL_LINE, RCS, True),  # "SMS" still prefers RCS
        (None, [frozenset({IM})], frozenset({RCS, SMS}), IM, False),  # nothing in common
    ],
)
def test_service_selection(
    preferred: Service | None,
    recipients: list[frozenset[Service]],
    line: frozenset[Service],
    service: Service,
    deliverable: bool,
) -> None:
    selection = select_service(preferred, recipients, line)
    assert (selection.service, selection.deliverable) == (service, deliverable)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("+14155551234", "+14155551234"),
        (" +15551234567 ", "+15551234567"),
        ("Ada@Example.COM", "ada@example.com"),
    ],
)
def test_handles_are_normalised(raw: str, value: str) -> None:
    assert parse_handle(raw).value == value


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("4155551234", 1002),
        ("+1 415 555 1234", 1002),
        ("+1-415-555-1234", 1002),
        ("+0123456", 1002),
        ("+14155", 1002),
        ("a@b", 1005),
    ],
)
def test_bad_handles(raw: str, code: int) -> None:
    with pytest.raises(LinqError) as refused:
        parse_handle(raw)
    assert refused.value.code.code == code


def test_recipients_are_a_set_in_first_seen_order() -> None:
    parsed = parse_recipients(["+14155550002", "+14155550001", "+14155550002"])
    assert [h.value for h in parsed] == ["+14155550002", "+14155550001"]


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("see example.com", True),
        ("go to https://x.test/a", True),
        ("www.linq.app", True),
        ("no links here.", False),
        ("version 2.0 is out", False),
        ("e-mail me", False),
    ],
)
def test_what_counts_as_a_link(text: str, link: bool) -> None:
    assert build_content({"parts": [{"type": "text", "value": text}]}).has_link is link


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "STOP"),
        ("  QUIT ", "QUIT"),
        ("opt-out", "opt-out"),
        ("Opt Out", "Opt Out"),
        ("stop", None),
        ("STOP now", None),
        ("OPT OUTS", None),
    ],
)
def test_opt_out_keywords(text: str, keyword: str | None) -> None:
    assert opt_out_keyword([{"type": "text", "value": text}]) == keyword


def test_media_messages_are_never_opt_outs() -> None:
    assert opt_out_keyword([{"type": "text", "value": "STOP"}, {"type": "media"}]) is None


OUT, IN = Direction.OUTBOUND, Direction.INBOUND
FAILED, DELIVERED = DeliveryStatus.FAILED, DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    ("latest", "health"),
    [
        ([(IN, DeliveryStatus.RECEIVED)], ChatHealth.HEALTHY),
        ([(OUT, DELIVERED)] * 4 + [(IN, DeliveryStatus.RECEIVED)], ChatHealth.HEALTHY),
        ([(OUT, DELIVERED)] * 5, ChatHealth.AT_RISK),
        ([(OUT, DELIVERED)] * 10, ChatHealth.CRITICAL),
        ([(OUT, FAILED)] * 3, ChatHealth.CRITICAL),
        ([(OUT, FAILED), (OUT, FAILED), (OUT, DELIVERED), (OUT, FAILED)], ChatHealth.HEALTHY),
    ],
)
def test_chat_health_model(
    latest: list[tuple[Direction, DeliveryStatus]], health: ChatHealth
) -> None:
    assert assess(latest) is health


@pytest.mark.parametrize(
    ("handle", "preset"),
    [
        ("+14155550101", "sms_only"),
        ("+12125550102", "android"),
        ("+19995550103", "unreachable"),
        ("+14155550105", "echo_bot"),
        ("+14155550109", "iphone"),
        ("+14155550199", "iphone"),
        ("+447700900105", "iphone"),
        ("a@b.co", "email"),
    ],
)
def test_magic_numbers_pick_devices(handle: str, preset: str) -> None:
    assert builtin_profile(handle) is PRESETS[preset]


def test_overrides_layer_on_presets() -> None:
    profile = resolve_profile("+14155550105", {"read_after": 5.0})
    assert (profile.name, profile.read_after, profile.reply.value) == ("echo_bot", 5.0, "echo")
    assert resolve_profile("+1415", {"preset": "android"}).services == ANDROID


@pytest.mark.parametrize(
    ("header", "trace"),
    [
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),
        (
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_traceparent(header: str | None, trace: str | None) -> None:
    assert trace_id_from_traceparent(header) == trace


@pytest.mark.parametrize(
    ("errors", "code"),
    [
        (
            [{"type": "json_invalid", "loc": ("body", 1), "msg": "bad"}],
            ErrorCode.INVALID_REQUEST_BODY,
        ),
        (
            [{"type": "model_attributes_type", "loc": ("body",), "msg": "x"}],
            ErrorCode.INVALID_REQUEST_BODY,
        ),
        (
            [{"type": "missing", "loc": ("body", "to"), "msg": "x"}],
            ErrorCode.MISSING_REQUIRED_FIELD,
        ),
        (
            [
                {
                    "type": "string_too_long",
                    "loc": ("body", "message", "parts", 0, "text", "value"),
                    "msg": "x",
                }
            ],
            ErrorCode.INVALID_MESSAGE_CONTENT,
        ),
        (
            [{"type": "int_parsing", "loc": ("query", "limit"), "msg": "x"}],
            ErrorCode.INVALID_PARAMETER,
        ),
    ],
)
def test_validation_failures_map_to_contract_codes(
    errors: list[dict[str, object]], code: ErrorCode
) -> None:
    assert validation_error(errors).code is code


def test_validation_messages_name_the_field() -> None:
    error = validation_error(
        [
            {
                "type": "string_too_long",
                "loc": ("body", "message", "parts", 0, "text", "value"),
                "msg": "too long",
            }
        ]
    )
    assert error.message.startswith("message.parts[0].value:")


@pytest.mark.parametrize(
    ("declared", "head", "code"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, None),
        ("application/pdf", b"%PDF-1.7\n", None),
        ("text/plain", "héllo wörld".encode(), None),
        ("application/zip", b"PK\x03\x04" + b"\0" * 32, None),
        ("image/png", b"just some text", 5006),
        ("text/csv", b"\x89PNG\r\n\x1a\n\0\0", 5006),
        ("image/jpeg", b"MZ\x90\x00" + b"\0" * 32, 5004),
    ],
)
def test_content_sniffing(declared: str, head: bytes, code: int | None) -> None:
    if code is None:
        check_content(declared, head)
        return
    with pytest.raises(LinqError) as refused:
        check_content(declared, head)
    assert refused.value.code.code == code
