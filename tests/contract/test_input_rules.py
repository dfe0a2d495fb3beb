"""Rules every field of every endpoint shares (``api/inputs.py``), over real HTTP on both
backends: no NUL, no unpaired surrogate, finite numbers, bounded nesting and body size.
A refused request answers the Linq body and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.tenant import Tenant

IPHONE = "+14155552671"
TEXT: Any = {"parts": [{"type": "text", "value": "hello"}]}


def _text(value: str) -> dict[str, Any]:
    return {"parts": [{"type": "text", "value": value}]}


def _refused(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert (body["error"]["status"], body["error"]["code"]) == (status, code), body
    return str(body["error"]["message"])


def _snapshot(tenant: Tenant) -> dict[str, Any]:
    """What a refused request must leave as it was: the account's rows, seen through the API."""
    chats = tenant.http.get("/v3/chats", params={"limit": 100}).json()["chats"]
    return {
        "chats": [(c["id"], c["updated_at"]) for c in chats],
        "messages": [
            [m["id"] for m in tenant.http.get(f"/v3/chats/{c['id']}/messages").json()["messages"]]
            for c in chats
        ],
        "events": len(tenant.sim.events()),
        "subscriptions": tenant.http.get("/v3/webhook-subscriptions").json(),
        "cards": tenant.http.get("/v3/contact_card").json(),
    }


@pytest.fixture
def chat_id(tenant: Tenant) -> str:
    created = tenant.http.post(
        "/v3/chats", json={"from": tenant.line, "to": [IPHONE], "message": TEXT}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["chat"]["id"])


def _post(path: str, body: Any) -> Callable[[Tenant, str], httpx.Response]:
    """A POST whose body is ASCII JSON (``\\uXXXX`` escapes), as most clients send it."""

    def call(tenant: Tenant, chat_id: str) -> httpx.Response:
        encoded = json.dumps(body).replace("LINE", tenant.line).replace("CHAT", chat_id)
        return tenant.http.post(
            path.replace("CHAT", chat_id),
            content=encoded,
            headers={"content-type": "application/json"},
        )

    return call


NUL = "\u0000"

# (field, request, code): a NUL in each field the issue lists, and a few more.
NUL_CASES: list[tuple[str, Callable[[Tenant, str], httpx.Response], int]] = [
    ("text", _post("/v3/chats/CHAT/messages", {"message": _text(f"hi{NUL}there")}), 1004),
    (
        "new chat text",
        _post("/v3/chats", {"from": "LINE", "to": [IPHONE], "message": _text(f"a{NUL}")}),
        1004,
    ),
    (
        "email handle",
        _post("/v3/chats", {"from": "LINE", "to": [f"ada{NUL}@x.com"], "message": TEXT}),
        1005,
    ),
    (
        "file name",
        _post(
            "/v3/attachments",
            {"filename": f"cat{NUL}.png", "content_type": "image/png", "size_bytes": 10},
        ),
        1005,
    ),
    (
        "idempotency key",
        _post("/v3/chats/CHAT/messages", {"message": {**TEXT, "idempotency_key": f"k{NUL}"}}),
        1004,
    ),
    (
        "target url",
        _post(
            "/v3/webhook-subscriptions",
            {"target_url": f"http://127.0.0.1:9/h{NUL}", "subscribed_events": ["message.sent"]},
        ),
        1005,
    ),
    (
        "contact card name",
        _post("/v3/contact_card", {"phone_number": "LINE", "first_name": f"Ada{NUL}"}),
        1005,
    ),
    (
        "simulator text",
        _post(f"/sim/v1/devices/{IPHONE}/messages", {"to": "LINE", "text": f"x{NUL}"}),
        1005,
    ),
    ("a field name", _post("/v3/chats/CHAT/messages", {"message": TEXT, f"x{NUL}": 1}), 1005),
]


@pytest.mark.parametrize("case", NUL_CASES, ids=[c[0] for c in NUL_CASES])
def test_a_nul_character_is_refused_and_changes_nothing(
    tenant: Tenant, chat_id: str, case: tuple[str, Any, int]
) -> None:
    _, call, code = case
    before = _snapshot(tenant)
    assert "NUL" in _refused(call(tenant, chat_id), 400, code)
    assert _snapshot(tenant) == before


@pytest.mark.parametrize(
    "request_path",
    ["/v3/chats?to=%00", "/v3/chats?from=%2B1202%00", "/v3/chats/%00", "/v3/chats/x%00/messages"],
)
def test_a_nul_character_in_the_path_or_query_is_refused(tenant: Tenant, request_path: str) -> None:
    assert "NUL" in _refused(tenant.http.get(request_path), 400, 1005)


@pytest.mark.parametrize(
    "case",
    [
        ("/v3/chats", {"from": "LINE", "to": ["\ud800@x.com"], "message": TEXT}, 1005),
        ("/v3/messages", {"to": ["+1415555\udfff"], "message": TEXT}, 1005),
        (
            "/v3/webhook-subscriptions",
            {"target_url": "http://127.0.0.1:9/h", "subscribed_events": ["\udfff"]},
            1005,
        ),
        ("/v3/chats/CHAT/messages", {"message": _text("half a pair \ud83d")}, 1004),
        ("/v3/chats/CHAT/messages", {"message": TEXT, "\udc00": True}, 1005),
    ],
    ids=["to", "messages-to", "subscribed_events", "text", "a field name"],
)
def test_an_unpaired_surrogate_is_refused(
    tenant: Tenant, chat_id: str, case: tuple[str, Any, int]
) -> None:
    path, body, code = case
    before = _snapshot(tenant)
    response = _post(path, body)(tenant, chat_id)
    assert "surrogate" in _refused(response, 400, code)
    assert _snapshot(tenant) == before


def test_a_paired_surrogate_is_an_ordinary_character(tenant: Tenant, chat_id: str) -> None:
    # json.dumps escapes the emoji as the pair \ud83d\ude00, which is one character.
    response = _post("/v3/chats/CHAT/messages", {"message": _text("\U0001f600")})(tenant, chat_id)
    assert response.status_code == 202, response.text
    assert response.json()["message"]["parts"][0]["value"] == "\U0001f600"


@pytest.mark.parametrize("location", ["[NaN, 1]", "[1, Infinity]", "[-Infinity, NaN]"])
def test_non_finite_numbers_are_refused(tenant: Tenant, location: str) -> None:
    before = tenant.sim.device(IPHONE)
    response = tenant.http.put(
        f"/sim/v1/devices/{IPHONE}",
        content=f'{{"location": {location}}}',
        headers={"content-type": "application/json"},
    )
    assert "finite" in _refused(response, 400, 1005)
    assert tenant.sim.device(IPHONE) == before


def test_non_finite_numbers_in_message_content_are_refused(tenant: Tenant, chat_id: str) -> None:
    response = tenant.http.post(
        f"/v3/chats/{chat_id}/messages",
        content='{"message": {"parts": [{"type": "text", "value": "x"}], "reply_to": '
        '{"message_id": "00000000-0000-0000-0000-000000000000", "part_index": NaN}}}',
        headers={"content-type": "application/json"},
    )
    _refused(response, 400, 1004)


def test_integers_beyond_64_bits_are_refused(tenant: Tenant, chat_id: str) -> None:
    body = {"message": {**TEXT, "reply_to": {"message_id": chat_id, "part_index": 2**64}}}
    _refused(_post("/v3/chats/CHAT/messages", body)(tenant, chat_id), 400, 1004)


@pytest.mark.parametrize("depth", [33, 5_000, 100_000])
def test_deeply_nested_json_is_a_malformed_body(tenant: Tenant, depth: int) -> None:
    body = '{"message": ' + "[" * depth + "]" * depth + "}"
    response = tenant.http.post(
        "/v3/chats", content=body, headers={"content-type": "application/json"}
    )
    assert "nested" in _refused(response, 400, 1003)


def test_nesting_the_contract_uses_is_accepted(tenant: Tenant, chat_id: str) -> None:
    value = "hello"
    body = {
        "message": {
            "parts": [
                {
                    "type": "text",
                    "value": value,
                    "text_decorations": [{"range": [0, 5], "style": "bold"}],
                }
            ]
        }
    }
    assert _post("/v3/chats/CHAT/messages", body)(tenant, chat_id).status_code == 202


def test_a_nul_character_in_a_chunked_body_is_refused(tenant: Tenant, chat_id: str) -> None:
    """A body without a Content-Length (chunked) is read and checked like any other."""
    before = _snapshot(tenant)
    body = json.dumps({"message": _text("a\u0000b")}).encode()
    response = tenant.http.post(
        f"/v3/chats/{chat_id}/messages",
        content=iter([body[:10], body[10:]]),
        headers={"content-type": "application/json"},
    )
    assert "NUL" in _refused(response, 400, 1004)
    assert _snapshot(tenant) == before


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"message": {"parts": [{"type": "text", "value": "'
    for _ in range(total // 65_536):
        yield b"x" * 65_536
    yield b'"}]}}'


def test_an_over_limit_chunked_body_is_413(tenant: Tenant, chat_id: str) -> None:
    # No Content-Length: the limit can only be noticed while the body streams in.
    response = tenant.http.post(
        f"/v3/chats/{chat_id}/messages",
        content=_chunks(2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert "limited" in _refused(response, 413, 1003)


def test_an_over_limit_chunked_body_of_another_type_is_413(tenant: Tenant, chat_id: str) -> None:
    response = tenant.http.post(
        f"/v3/chats/{chat_id}/messages",
        content=_chunks(2 * 1024 * 1024),
        headers={"content-type": "text/plain"},
    )
    _refused(response, 413, 1003)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v3/chats/"), ("POST", "/v3/chats/"), ("GET", "/api/partner/v3/phone_numbers/")],
)
def test_a_trailing_slash_is_a_linq_404_not_a_redirect(
    tenant: Tenant, method: str, path: str
) -> None:
    response = tenant.http.request(method, path, json={} if method == "POST" else None)
    assert "no such endpoint" in _refused(response, 404, 1005)
    assert "location" not in response.headers


def test_an_empty_idempotency_key_header_is_no_key(tenant: Tenant) -> None:
    def send(value: str) -> httpx.Response:
        return tenant.http.post(
            "/v3/messages",
            json={"to": [IPHONE], "message": _text(value)},
            headers={"Idempotency-Key": ""},
        )

    first, second = send("one"), send("two")
    assert (first.status_code, second.status_code) == (202, 202), second.text
    assert first.json()["message"]["id"] != second.json()["message"]["id"]
    again = send("one")
    assert again.status_code == 202
    assert again.json()["message"]["id"] not in (
        first.json()["message"]["id"],
        second.json()["message"]["id"],
    )
