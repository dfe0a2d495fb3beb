"""The contract's EXTRA endpoints answer 403 / 2011 naming the feature (issue #10, item 13).

Walks every EXTRA method of the official SDK's resources, so a path the SDK calls and the
server does not know (a 404) cannot slip through.
"""

from __future__ import annotations

import inspect
import typing
import uuid
from typing import Any, Literal

import httpx
import linq
import pytest
from linq import LinqAPIV3

from openlinq.api.routes.extras import EXTRA_ENDPOINTS
from tests.support.server import RunningServer
from tests.support.tenant import Tenant

# Every EXTRA method of linq-python 0.65 not served yet (chats.location.stop, payment
# requests and experiences are).
EXTRA_METHODS = (
    "chats.polls.create",
    "chats.background.set",
    "chats.background.remove",
    "messages.update_sticker_placement",
    "messages.poll.retrieve",
    "messages.poll.add_options",
    "messages.poll.vote",
    "phone_numbers.get_reputation_audit",
    "phone_numbers.start_reputation_audit",
    "payment_providers.retrieve",
    "payment_providers.connect",
    "payment_handles.connect",
    "payment_handles.connection",
    "payment_handles.revoke",
    "payment_handles.verify",
    "payments.create",
    "payments.retrieve",
    "payments.cancel",
    "payments.credentials",
    "blocked_handles.list",
    "blocked_handles.block",
    "blocked_handles.unblock",
)


def _method(client: LinqAPIV3, dotted: str) -> Any:
    target: Any = client
    for name in dotted.split("."):
        target = getattr(target, name)
    return target


def _value(name: str, annotation: Any, line: str) -> Any:
    """A plausible value for a required SDK argument, from its name and type."""
    if name == "phone_number":
        return line
    if name == "handle":
        return "+14155550123"
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)[0]
    if annotation is int:
        return 100
    if annotation is str:
        return str(uuid.uuid4())
    if typing.get_origin(annotation) is not None:  # Iterable[...] of options
        return []
    return {}  # a TypedDict parameter object


def _call(client: LinqAPIV3, dotted: str, line: str) -> None:
    method = _method(client, dotted)
    hints = typing.get_type_hints(method)
    arguments = {
        name: _value(name, hints[name], line)
        for name, parameter in inspect.signature(method).parameters.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    }
    method(**arguments)


def _sdk(server: RunningServer, api_key: str, seen: list[httpx.Request]) -> LinqAPIV3:
    return LinqAPIV3(
        base_url=server.sdk_base_url,
        api_key=api_key,
        max_retries=0,
        http_client=httpx.Client(event_hooks={"request": [seen.append]}),
    )


def test_every_extra_method_of_the_sdk_answers_403_2011_naming_its_feature(
    server: RunningServer, tenant: Tenant
) -> None:
    seen: list[httpx.Request] = []
    with _sdk(server, tenant.api_key, seen) as client:
        for dotted in EXTRA_METHODS:
            with pytest.raises(linq.PermissionDeniedError) as refused:
                _call(client, dotted, tenant.line)
            error = refused.value.response.json()["error"]
            assert (refused.value.status_code, error["code"]) == (403, 2011), dotted
            assert "feature is not available" in error["message"], dotted
            assert refused.value.response.headers["x-should-retry"] == "false", dotted
    # The router's table is exactly what the SDK calls: no route missing, none stray.
    served = {
        (method, "/api/partner/v3" + path.split("{")[0]) for method, path, _ in EXTRA_ENDPOINTS
    }
    called = {(r.method, r.url.path) for r in seen}
    assert len(called) == len(EXTRA_ENDPOINTS)
    assert {m for m, _ in called} == {m for m, _ in served}
    for method, path in called:
        assert any(m == method and path.startswith(p) for m, p in served), (method, path)


def test_extra_endpoints_authenticate_first(server: RunningServer) -> None:
    with _sdk(server, "olq_not_a_key", []) as client, pytest.raises(linq.AuthenticationError):
        _call(client, "payments.create", "+14155550100")


def test_a_named_feature_in_the_message(tenant: Tenant) -> None:
    response = tenant.http.get("/v3/blocked_handles")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "the blocked handles feature is not available on this openlinq server yet"
    )
