"""Wire behaviour every endpoint shares: auth, the Linq error body, trace headers, routing
prefixes, body parsing, retry hints, discovery and cross-account isolation."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import linq
import pytest
from linq import LinqAPIV3

from tests.support.server import RunningServer
from tests.support.tenant import Tenant, tenant_on

TEXT: Any = {"parts": [{"type": "text", "value": "hello"}]}
IPHONE = "+14155552671"
DOC_URL = "https://docs.linqapp.com/error/codes"
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


@pytest.fixture
def anonymous(server: RunningServer) -> Iterator[httpx.Client]:
    """A plain client with no Authorization header."""
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        yield client


@pytest.fixture
def stranger(server: RunningServer) -> Iterator[Tenant]:
    with tenant_on(server) as created:
        yield created


def _traced(response: httpx.Response) -> str:
    """The response's trace id; x-trace-id and traceparent must agree."""
    trace_id = response.headers["x-trace-id"]
    assert TRACE_ID.match(trace_id), trace_id
    parent = TRACEPARENT.match(response.headers["traceparent"])
    assert parent is not None, response.headers["traceparent"]
    assert parent.group(1) == trace_id
    return trace_id


def _linq_error(response: httpx.Response, status: int, code: int | None = None) -> dict[str, Any]:
    """Assert the Linq error shape (JSON, envelope, trace id) and return ``error``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"success", "error", "trace_id"}
    assert body["success"] is False
    assert body["trace_id"] == _traced(response)
    error = body["error"]
    assert error["status"] == status
    assert isinstance(error["code"], int)
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["doc_url"] == f"{DOC_URL}/{error['code'] // 1000}xxx/{error['code']}/"
    if code is not None:
        assert error["code"] == code
    return dict(error)


def _chat(tenant: Tenant) -> Any:
    return tenant.client.chats.create(from_=tenant.line, to=[IPHONE], message=TEXT).chat


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-key", "Bearer", "Basic dXNlcjpwYXNz", "wrong-key"],
    ids=["none", "wrong key", "empty bearer", "basic", "no scheme"],
)
def test_without_a_valid_key_is_401(anonymous: httpx.Client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    for path in ("/v3/phone_numbers", "/api/partner/v3/chats", "/sim/v1/clock"):
        error = _linq_error(anonymous.get(path, headers=headers), 401, 2004)
        assert set(error) == {"status", "code", "message", "doc_url"}


def test_tenant_client_with_another_key_is_401(tenant: Tenant) -> None:
    response = tenant.http.get("/v3/phone_numbers", headers={"Authorization": "Bearer olq_nope"})
    _linq_error(response, 401, 2004)


def test_sdk_raises_authentication_error_with_code(server: RunningServer) -> None:
    client = LinqAPIV3(base_url=server.sdk_base_url, api_key="olq_nope", max_retries=0)
    with client, pytest.raises(linq.AuthenticationError) as e:
        client.phone_numbers.list()
    assert (e.value.status_code, e.value.code) == (401, 2004)
    assert e.value.doc_url == "https://docs.linqapp.com/error/codes/2xxx/2004/"
    _linq_error(e.value.response, 401, 2004)


# -- routing errors and request bodies --------------------------------------------------------


@pytest.mark.parametrize("path", ["/v3/nope", "/api/partner/v3/chats/x/nope", "/nothing/here"])
def test_unknown_route_is_a_linq_404(tenant: Tenant, path: str) -> None:
    _linq_error(tenant.http.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/v3/phone_numbers"), ("PATCH", "/v3/chats"), ("GET", "/v3/capability/check_rcs")],
)
def test_wrong_method_is_a_linq_405(tenant: Tenant, method: str, path: str) -> None:
    _linq_error(tenant.http.request(method, path), 405)


@pytest.mark.parametrize(
    "content",
    [b'{"from": ', b"not json", b"[1, 2", b"\xff\xfe"],
    ids=["truncated", "text", "broken array", "not utf-8"],
)
def test_malformed_json_is_1003(tenant: Tenant, content: bytes) -> None:
    response = tenant.http.post(
        "/v3/chats", content=content, headers={"Content-Type": "application/json"}
    )
    _linq_error(response, 400, 1003)


@pytest.mark.parametrize("body", [[], [{"from": "+14155550000"}], "text", 7])
def test_non_object_json_body_is_1003(tenant: Tenant, body: Any) -> None:
    _linq_error(tenant.http.post("/v3/chats", json=body), 400, 1003)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v3/chats", {"to": [IPHONE], "message": TEXT}),
        ("POST", "/v3/capability/check_imessage", {}),
        ("POST", "/v3/webhook-subscriptions", {"subscribed_events": ["message.sent"]}),
    ],
    ids=["chat without from", "check without address", "subscription without url"],
)
def test_missing_required_field_is_1001(
    tenant: Tenant, method: str, path: str, body: dict[str, Any]
) -> None:
    _linq_error(tenant.http.request(method, path, json=body), 400, 1001)


def test_missing_forwarding_number_is_1001(tenant: Tenant) -> None:
    response = tenant.http.put(f"/v3/phone_numbers/{tenant.lines[0].id}", json={})
    _linq_error(response, 400, 1001)


@pytest.mark.parametrize(
    ("method", "action"), [("POST", "read"), ("POST", "typing"), ("DELETE", "typing")]
)
def test_json_content_type_with_empty_body_is_accepted(
    tenant: Tenant, method: str, action: str
) -> None:
    """The SDK sends Content-Type: application/json even on body-less requests."""
    chat_id = _chat(tenant).id
    response = tenant.http.request(
        method,
        f"/api/partner/v3/chats/{chat_id}/{action}",
        content=b"",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 204, response.text
    _traced(response)


def test_sdk_mark_as_read_sends_an_empty_json_post(tenant: Tenant) -> None:
    chat_id = _chat(tenant).id
    raw = tenant.client.chats.with_raw_response.mark_as_read(chat_id)
    assert raw.http_request.headers["content-type"] == "application/json"
    assert raw.status_code == 204


# -- trace headers ----------------------------------------------------------------------------

REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/v3/phone_numbers", {}),
    ("GET", "/api/partner/v3/chats", {}),
    ("GET", "/health", {}),
    ("GET", "/sim/v1/clock", {}),
    ("GET", "/v3/nope", {}),
    ("DELETE", "/v3/phone_numbers", {}),
    ("POST", "/v3/chats", {"content": b"{", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/v3/capability/check_rcs", {"json": {"address": "someone@example.com"}}),
    ("GET", f"/v3/chats/{uuid.uuid4()}", {}),
    ("GET", "/v3/phone_numbers", {"headers": {"Authorization": "Bearer nope"}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), REQUESTS)
def test_every_response_carries_its_trace(
    tenant: Tenant, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = tenant.http.request(method, path, **kwargs)
    trace_id = _traced(response)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/json"
        assert response.json()["trace_id"] == trace_id
    # Each request gets its own trace.
    assert _traced(tenant.http.request(method, path, **kwargs)) != trace_id


@pytest.mark.parametrize("path", ["/v3/phone_numbers", "/v3/nope"])
def test_incoming_traceparent_is_honoured(tenant: Tenant, path: str) -> None:
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    response = tenant.http.get(path, headers={"traceparent": f"00-{trace_id}-{span_id}-01"})
    assert _traced(response) == trace_id
    if response.status_code >= 400:
        assert response.json()["trace_id"] == trace_id


@pytest.mark.parametrize(
    "traceparent",
    [
        "garbage",
        f"00-{'0' * 32}-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-zzf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ],
)
def test_invalid_traceparent_is_replaced(tenant: Tenant, traceparent: str) -> None:
    response = tenant.http.get("/v3/nope", headers={"traceparent": traceparent})
    _linq_error(response, 404)
    trace_id = _traced(response)
    assert trace_id not in traceparent
    assert set(trace_id) != {"0"}


# -- retry hints ------------------------------------------------------------------------------


def test_business_conflict_tells_the_sdk_not_to_retry(
    server: RunningServer, tenant: Tenant
) -> None:
    chat_id = _chat(tenant).id
    retrying = LinqAPIV3(base_url=server.sdk_base_url, api_key=tenant.api_key, max_retries=2)
    with retrying, pytest.raises(linq.ConflictError) as e:
        retrying.chats.update(chat_id, display_name="renamed")  # direct chats can't be renamed
    assert (e.value.status_code, e.value.code) == (409, 1006)
    assert e.value.response.headers["x-should-retry"] == "false"
    # The error came from the first attempt: the SDK did not retry.
    assert e.value.response.request.headers["x-stainless-retry-count"] == "0"
    _linq_error(e.value.response, 409, 1006)


# -- prefixes, discovery, health --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v3/phone_numbers", "/v3/webhook-events"])
def test_both_prefixes_serve_the_same_api(tenant: Tenant, path: str) -> None:
    short, long = tenant.http.get(path), tenant.http.get(f"/api/partner{path}")
    assert (short.status_code, long.status_code) == (200, 200)
    assert short.json() == long.json()


def test_sdk_works_against_the_bare_v3_prefix(server: RunningServer, tenant: Tenant) -> None:
    with LinqAPIV3(
        base_url=server.base_url, api_key=tenant.api_key, _strict_response_validation=True
    ) as bare:
        listed = bare.phone_numbers.list().phone_numbers
        chat = bare.chats.create(from_=tenant.line, to=[IPHONE], message=TEXT).chat
    assert sorted(n.phone_number for n in listed) == sorted(x.phone_number for x in tenant.lines)
    assert tenant.client.chats.retrieve(chat.id).id == chat.id


def test_openapi_lists_the_api_and_the_simulator(anonymous: httpx.Client) -> None:
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    expected = {
        "/v3/chats",
        "/v3/messages",
        "/v3/phone_numbers",
        "/v3/available_number",
        "/v3/capability/check_rcs",
    }
    assert expected <= paths, expected - paths
    assert any(path.startswith("/sim/v1/") for path in paths)
    assert "/sim/v1/clock/advance" in paths


def test_health_answers_without_auth(anonymous: httpx.Client, backend: str) -> None:
    response = anonymous.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"sqlite": "sqlite", "postgres": "postgresql"}[backend]
    _traced(response)


# -- cross-account isolation ------------------------------------------------------------------


def _get_chat(tenant: Tenant, ids: tuple[str, str]) -> object:
    return tenant.client.chats.retrieve(ids[0])


def _get_message(tenant: Tenant, ids: tuple[str, str]) -> object:
    return tenant.client.messages.retrieve(ids[1])


def _list_chat_messages(tenant: Tenant, ids: tuple[str, str]) -> object:
    return tenant.client.chats.messages.list(ids[0])


def _not_found(lookup: Callable[[Tenant, tuple[str, str]], object], *args: Any) -> tuple[int, Any]:
    with pytest.raises(linq.NotFoundError) as e:
        lookup(*args)
    _linq_error(e.value.response, 404)
    return e.value.status_code, e.value.code


@pytest.mark.parametrize("lookup", [_get_chat, _get_message, _list_chat_messages])
def test_another_accounts_ids_look_like_missing_ones(
    tenant: Tenant, stranger: Tenant, lookup: Callable[[Tenant, tuple[str, str]], object]
) -> None:
    created = _chat(tenant)
    owned = (created.id, created.message.id)
    unknown = (str(uuid.uuid4()), str(uuid.uuid4()))
    assert _not_found(lookup, stranger, owned) == _not_found(lookup, stranger, unknown)
    lookup(tenant, owned)  # the owner still sees it
