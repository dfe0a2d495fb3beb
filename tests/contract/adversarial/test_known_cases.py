"""The requests issue #10 found breaking the server, each as an explicit example.

Each case names its issue item. Every one goes through the same invariant as
the generated attacks (a Linq-shaped 4xx or a 2xx, and a rejection changes
nothing), and then must get the answer the issue asks for.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.contract.adversarial.conftest import World
from tests.contract.adversarial.test_every_endpoint import fill
from tests.support.adversarial import Outcome

OK = "2xx"


@dataclass(frozen=True)
class Case:
    item: str
    name: str
    method: str
    path: str
    body: Any = None
    raw: bytes | None = None
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    # Acceptable answers: (status, code) pairs; code None accepts any code; OK any 2xx.
    expect: tuple[tuple[int, int | None] | str, ...] = field(default=((400, None),))


def _card(**changes: Any) -> dict[str, Any]:
    app = {"name": "App", "bundle_id": "com.example.app", "team_id": "ABCDE12345"}
    layout: dict[str, Any] = {"caption": "Caption"}
    app.update(changes.pop("app", {}))
    layout.update(changes.pop("layout", {}))
    part = {
        "type": "imessage_app",
        "app": app,
        "layout": layout,
        "url": "https://example.com/card",
        **changes,
    }
    return {"message": {"parts": [part]}}


def _text(value: str, **extra: Any) -> dict[str, Any]:
    return {"message": {"parts": [{"type": "text", "value": value, **extra}]}}


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


SEND = "/v3/chats/$chat/messages"
BAD_CONTENT = ((400, 1004),)
BAD_PARAM = ((400, 1005),)
BAD_ANY = ((400, 1004), (400, 1005))

BAD_CARDS: list[tuple[str, dict[str, Any]]] = [
    ("app_store_id string", {"app": {"app_store_id": "abc"}}),
    ("app.name int", {"app": {"name": 5}}),
    ("app.bundle_id list", {"app": {"bundle_id": ["x"]}}),
    ("app.team_id object", {"app": {"team_id": {"a": 1}}}),
    ("layout.caption object", {"layout": {"caption": {}}}),
    ("layout.image_url int", {"layout": {"image_url": 7}}),
    ("layout.subcaption list", {"layout": {"subcaption": ["x"]}}),
]

CASES: list[Case] = [
    # 1. Commit-then-500: imessage_app fields are type-checked before anything is stored.
    *(
        Case("1", f"imessage_app {label}", "POST", SEND, _card(**change), expect=BAD_CONTENT)
        for label, change in BAD_CARDS
    ),
    Case(
        "1",
        "imessage_app in a new chat, app_store_id string",
        "POST",
        "/v3/chats",
        {"from": "$line", "to": ["$handle"], **_card(app={"app_store_id": "abc"})},
        expect=BAD_CONTENT,
    ),
    Case(
        "1",
        "imessage_app via /v3/messages, caption object",
        "POST",
        "/v3/messages",
        {"to": ["$handle"], **_card(layout={"caption": {}})},
        expect=BAD_CONTENT,
    ),
    Case(
        "1",
        "app card update, app_store_id string",
        "POST",
        "/v3/messages/$app_message/update",
        {
            "layout": {"caption": "x"},
            "app": {
                "bundle_id": "com.example.app",
                "name": "App",
                "team_id": "ABCDE12345",
                "app_store_id": "abc",
            },
        },
        expect=BAD_ANY,
    ),
    # 2. Quadratic work: decorations and recipients are capped.
    Case(
        "2",
        "20,000 decorations on 10,000 characters",
        "POST",
        SEND,
        _text(
            "x" * 10_000,
            text_decorations=[
                {"range": [i % 9_999, i % 9_999 + 1], "style": "bold"} for i in range(20_000)
            ],
        ),
        expect=BAD_CONTENT,
    ),
    Case(
        "2",
        "32 recipients in a new chat",
        "POST",
        "/v3/chats",
        {"from": "$line", "to": [f"+1415555{3000 + i:04d}" for i in range(32)], **_text("hi")},
        expect=BAD_ANY,
    ),
    Case(
        "2",
        "10,000 recipients",
        "POST",
        "/v3/messages",
        {"to": [f"+1415{5550000 + i:07d}" for i in range(10_000)], **_text("hi")},
        expect=BAD_ANY,
    ),
    # 3. NUL bytes: refused at the edge, on both backends alike.
    Case("3", "NUL in text", "POST", SEND, _text("a\x00b"), expect=BAD_CONTENT),
    Case(
        "3",
        "NUL in an email handle",
        "POST",
        "/v3/messages",
        {"to": ["a\x00@example.com"], **_text("hi")},
        expect=BAD_ANY,
    ),
    Case(
        "3",
        "NUL in a file name",
        "POST",
        "/v3/attachments",
        {"filename": "a\x00.png", "content_type": "image/png", "size_bytes": 10},
        expect=BAD_PARAM,
    ),
    Case(
        "3",
        "NUL in an idempotency key",
        "POST",
        SEND,
        {"message": {"parts": [{"type": "text", "value": "x"}], "idempotency_key": "k\x00"}},
        expect=BAD_ANY,
    ),
    Case(
        "3",
        "NUL in a webhook target_url",
        "POST",
        "/v3/webhook-subscriptions",
        {"target_url": "http://127.0.0.1:9/a\x00b", "subscribed_events": ["message.sent"]},
        expect=BAD_PARAM,
    ),
    Case(
        "3",
        "NUL in a new contact card's name",
        "POST",
        "/v3/contact_card",
        {"phone_number": "$line2", "first_name": "A\x00"},
        expect=BAD_PARAM,
    ),
    Case(
        "3",
        "NUL in a contact card name update",
        "PATCH",
        "/v3/contact_card",
        {"first_name": "A\x00"},
        params=(("phone_number", "$line"),),
        expect=BAD_PARAM,
    ),
    Case(
        "3",
        "NUL in simulator text",
        "POST",
        "/sim/v1/devices/$handle/messages",
        {"to": "$line", "text": "hi\x00"},
        expect=BAD_ANY,
    ),
    Case(
        "3",
        "NUL in a group name",
        "PUT",
        "/v3/chats/$group",
        {"display_name": "team\x00"},
        expect=BAD_PARAM,
    ),
    # 4. Unparseable cursors, URLs and timestamps are 400 / 1005.
    *(
        Case(
            "4",
            f"cursor {label} on {where}",
            "GET",
            where,
            params=(("cursor", cursor),),
            expect=BAD_PARAM,
        )
        for where in (
            "/v3/chats",
            "/v3/chats/$chat/messages",
            "/v3/messages/$message/thread",
            "/v3/webhook-subscriptions/$subscription/deliveries",
        )
        for label, cursor in [
            ("²", "²"),
            ("huge integer", "99999999999999999999999"),
            ("naive timestamp", _b64("2024-01-01T00:00:00|1")),
            ("out-of-range timestamp", _b64("9999-12-31T23:59:59-23:59|1")),
            ("huge sequence", _b64("2024-01-01T00:00:00+00:00|99999999999999999999999")),
        ]
    ),
    *(
        Case(
            "4",
            f"target_url {url!r}",
            "POST",
            "/v3/webhook-subscriptions",
            {"target_url": url, "subscribed_events": ["message.sent"]},
            expect=BAD_PARAM,
        )
        for url in ("http://[::1/x", "http://127.0.0.1:99999/x.png")
    ),
    *(
        Case(
            "4",
            f"media url {url!r}",
            "POST",
            SEND,
            {"message": {"parts": [{"type": "media", "url": url}]}},
            expect=BAD_ANY,
        )
        for url in ("http://[::1/x", "http://127.0.0.1:99999/x.png")
    ),
    Case(
        "4",
        "recover since year 9999 at -23:59",
        "POST",
        "/v3/webhook-subscriptions/$subscription/recover",
        {"since": "9999-12-31T23:59:59-23:59"},
        expect=BAD_PARAM,
    ),
    Case(
        "4",
        "lone surrogate in a recipient",
        "POST",
        "/v3/messages",
        {"to": ["\ud800@x.com"], **_text("hi")},
        expect=BAD_PARAM,
    ),
    Case(
        "4",
        "lone surrogate in subscribed_events",
        "POST",
        "/v3/webhook-subscriptions",
        {"target_url": "http://127.0.0.1:9/s", "subscribed_events": ["\udfff"]},
        expect=BAD_PARAM,
    ),
    # 5. Webhook targets that can never be delivered are refused at create and update.
    *(
        Case(
            "5",
            f"{method} target_url {label}",
            method,
            path,
            {"target_url": url, "subscribed_events": ["message.sent"]},
        )
        for method, path in (
            ("POST", "/v3/webhook-subscriptions"),
            ("PUT", "/v3/webhook-subscriptions/$subscription"),
        )
        for label, url in [
            ("NUL", "http://127.0.0.1:9/\x00"),
            ("CR/LF", "http://127.0.0.1:9/a\r\nX-Evil: 1"),
            ("invalid IDNA host", "http://xn--zz-zzzzzzzzz.com/hook"),
            ("port above 65535", "http://127.0.0.1:70000/hook"),
        ]
    ),
    # 11. Smaller ones.
    Case("11", "location NaN", "PUT", "/sim/v1/devices/$other", raw=b'{"location": [NaN, 1]}'),
    Case(
        "11",
        "location Infinity",
        "PUT",
        "/sim/v1/devices/$other",
        raw=b'{"location": [Infinity, -Infinity]}',
    ),
    Case("11", "GET /v3/chats/ (trailing slash)", "GET", "/v3/chats/", expect=(OK, (404, None))),
    Case(
        "11",
        "100k-deep JSON",
        "POST",
        SEND,
        raw=b"[" * 100_000 + b"]" * 100_000,
        expect=((400, 1003),),
    ),
    # 12. Bugs real clients hit.
    Case(
        "12",
        "a simulated phone sends a photo by attachment",
        "POST",
        "/sim/v1/devices/$handle/messages",
        {"to": "$line", "parts": [{"type": "media", "attachment_id": "$attachment"}]},
        expect=(OK,),
    ),
    Case(
        "12",
        "a simulated phone sends a photo and text",
        "POST",
        "/sim/v1/devices/$handle/messages",
        {
            "to": "$line",
            "parts": [
                {"type": "text", "value": "look"},
                {"type": "media", "attachment_id": "$attachment"},
            ],
        },
        expect=(OK,),
    ),
]


def _fill_path(path: str, values: dict[str, str]) -> str:
    for name in sorted(values, key=len, reverse=True):
        path = path.replace(name, values[name])
    return path


def _matches(outcome: Outcome, expect: tuple[tuple[int, int | None] | str, ...]) -> bool:
    code = None
    if isinstance(outcome.body, dict) and isinstance(outcome.body.get("error"), dict):
        code = outcome.body["error"].get("code")
    for wanted in expect:
        if wanted == OK:
            if 200 <= outcome.status < 300:
                return True
            continue
        assert isinstance(wanted, tuple)
        status, wanted_code = wanted
        if outcome.status == status and wanted_code in (None, code):
            return True
    return False


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"item{c.item}: {c.name}")
def test_a_case_the_issue_found(world: World, case: Case) -> None:
    probe = world.probe()
    body = fill(case.body, world.values) if case.body is not None else None
    content = (
        case.raw
        if case.raw is not None
        else (json.dumps(body).encode() if body is not None else None)
    )
    outcome = probe.send(
        case.method,
        _fill_path(case.path, world.values),
        route=case.path,
        content=content,
        params=[(k, fill(v, world.values)) for k, v in case.params],
        headers=dict(case.headers),
        item=case.item,
    )
    assert not probe.failures, probe.report(f"issue #10 item {case.item}: {case.name}")
    assert _matches(outcome, case.expect), (
        f"issue #10 item {case.item}: {case.name}\n"
        f"    {case.method} {case.path} (body {len(content or b'')} bytes)\n"
        f"    -> HTTP {outcome.status} {outcome.text[:300]}\n"
        f"    wanted one of {case.expect}"
    )


def test_a_chat_stays_readable_after_hostile_cards(world: World) -> None:
    """Item 1: whatever a bad card does, the chat's messages can still be listed and read."""
    http = world.http
    created = http.post(
        "/v3/chats",
        json={
            "from": world.values["$line"],
            "to": ["+14155552690"],
            "message": {"parts": [{"type": "text", "value": "before the cards"}]},
        },
    )
    assert created.status_code == 201, created.text
    chat_id = created.json()["chat"]["id"]
    for _, change in BAD_CARDS:
        http.post(f"/v3/chats/{chat_id}/messages", json=_card(**change))
    listed = http.get(f"/v3/chats/{chat_id}/messages")
    assert listed.status_code == 200, f"GET /v3/chats/{{id}}/messages -> {listed.text[:300]}"
    for message in listed.json()["messages"]:
        one = http.get(f"/v3/messages/{message['id']}")
        assert one.status_code == 200, f"GET /v3/messages/{{id}} -> {one.text[:300]}"
