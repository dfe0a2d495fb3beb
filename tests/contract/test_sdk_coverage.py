"""Every operation of the official SDK reaches an endpoint here: nothing it can call is a 404.

Walks the SDK client's resources (so a method a new SDK release adds is checked too) and
calls each HTTP method once with plausible arguments. The answer may be anything the
operation can answer (most ids are made up, so mostly 4xx), but never the router's own
"no such endpoint" 404 or "not allowed" 405.
"""

from __future__ import annotations

import inspect
import typing
import uuid
import warnings
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import linq
from linq import LinqAPIV3
from linq._resource import SyncAPIResource

from tests.support.server import RunningServer
from tests.support.tenant import Tenant

# linq-python 0.65: 70 HTTP methods; webhooks.unwrap checks a signature on the client.
HTTP_METHODS = 70
CLIENT_SIDE = {"webhooks.unwrap"}


def _operations(resource: object, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name in dir(type(resource)):
        if name.startswith("_") or name in ("with_raw_response", "with_streaming_response"):
            continue
        value = getattr(resource, name)
        if isinstance(value, SyncAPIResource):
            yield from _operations(value, f"{prefix}{name}.")
        elif callable(value) and prefix and f"{prefix}{name}" not in CLIENT_SIDE:
            yield f"{prefix}{name}", value


def _value(name: str, annotation: Any, line: str) -> Any:
    """A plausible value for a required argument, from its name and type."""
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


def _call(method: Any, line: str) -> None:
    hints = typing.get_type_hints(method)
    method(
        **{
            name: _value(name, hints[name], line)
            for name, parameter in inspect.signature(method).parameters.items()
            if parameter.default is inspect.Parameter.empty
            and parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        }
    )


def test_every_sdk_operation_reaches_an_endpoint(server: RunningServer, tenant: Tenant) -> None:
    seen: list[httpx.Request] = []
    client = LinqAPIV3(
        base_url=server.sdk_base_url,
        api_key=tenant.api_key,
        max_retries=0,
        http_client=httpx.Client(event_hooks={"request": [seen.append]}),
    )
    unrouted: list[str] = []
    operations = list(_operations(client))
    with client:
        for dotted, method in operations:
            try:
                with warnings.catch_warnings():  # phonenumbers.list is deprecated, still served
                    warnings.simplefilter("ignore", DeprecationWarning)
                    _call(method, tenant.line)
            except linq.APIStatusError as answer:
                message = answer.response.json()["error"]["message"]
                if message.startswith("no such endpoint") or "is not allowed on" in message:
                    unrouted.append(f"{dotted}: {answer.status_code} {message}")
    assert unrouted == []
    assert len(operations) == HTTP_METHODS
    assert len(seen) == HTTP_METHODS  # each operation made its request
