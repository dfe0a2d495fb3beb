"""Routes built on first use answer as if they had been built at start (api/lazy.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, Mount, Route

from openlinq.api.lazy import LazyRoutes
from openlinq.api.routes import PREFIX, SDK_PREFIX
from openlinq.api.routing import RouteIndex, include_flat
from openlinq.app import create_app
from openlinq.config import Settings

_PARAMETER = re.compile(r"\{[^}]*\}")
ID = "3f1c2d7a-0000-4000-8000-000000000001"


@pytest.fixture(params=["local", "hosted"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> FastAPI:
    hosted = request.param == "hosted"
    return create_app(
        Settings(
            data_dir=tmp_path, hosted_mode=hosted, operator_api_key="o" * 40 if hosted else None
        )
    )


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _first_match(routes: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    for route in routes:
        if route.matches(_scope(method, path))[0] is Match.FULL:
            return route
    return None


def _requests(route: BaseRoute) -> list[tuple[str, str]]:
    if isinstance(route, Mount):
        return [("GET", f"{route.path}/some/file.css")]
    assert isinstance(route, Route)
    path = _PARAMETER.sub(ID, route.path)
    return [(method, path) for method in route.methods or ("GET",)]


def _lazy(app: FastAPI) -> LazyRoutes:
    lazy = app.state.lazy_routes
    assert isinstance(lazy, LazyRoutes)
    return lazy


def test_a_request_no_built_route_matches_builds_the_rest(app: FastAPI) -> None:
    """Until a built route fails to match, the pending features stay unbuilt; then each
    lazy route answers what the whole router answers, never another route in its place."""
    at_start = list(app.router.routes)
    lazy = _lazy(app)
    assert lazy.pending
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    assert index.fallback is lazy
    lazy.load()
    assert not lazy.pending
    routes = app.router.routes
    built_later = [route for route in routes if route not in at_start]
    assert len(built_later) > 100
    for route in built_later:
        for method, path in _requests(route):
            # No route built at start or by another feature matches it: none can answer
            # in its place while its feature is pending (or be passed over once built).
            feature = lazy.feature_of(route)
            assert feature is not None
            matching = [r for r in routes if r.matches(_scope(method, path))[0] is Match.FULL]
            assert {lazy.feature_of(r) for r in matching} == {feature}, (method, path)
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    assert index.fallback is not lazy
    for route in routes:
        for method, path in _requests(route):
            found = _first_match(index.candidates(method, path), method, path)
            assert found is _first_match(routes, method, path), (method, path)


def test_a_request_builds_only_the_features_under_its_path(app: FastAPI) -> None:
    lazy = _lazy(app)
    before = {id(route) for route in app.router.routes}
    assert not lazy.load("/v3/nowhere")
    assert {id(route) for route in app.router.routes} == before
    assert lazy.load("/api/partner/v3/blocked_handles")
    built = {getattr(r, "path", None) for r in app.router.routes if id(r) not in before}
    assert built == {"/v3/blocked_handles", "/api/partner/v3/blocked_handles"}
    assert lazy.pending
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    assert index.fallback is lazy


def test_the_openapi_document_lists_the_lazy_features(app: FastAPI) -> None:
    assert _lazy(app).pending
    paths = app.openapi()["paths"]
    assert not _lazy(app).pending
    for path in (
        "/v3/payment_requests",
        "/v3/chats/{chat_id}/polls",
        "/v3/blocked_handles",
        "/v3/phone_numbers/{phone_number}/reputation_audit",
        "/v3/webhook-subscriptions",
    ):
        assert path in paths
    assert not any(path.startswith(SDK_PREFIX) for path in paths)


def test_each_sdk_route_is_the_documented_route_under_the_sdk_prefix(app: FastAPI) -> None:
    _lazy(app).load()
    api = [route for route in app.router.routes if isinstance(route, APIRoute)]
    documented = {(route.path, tuple(sorted(route.methods or ()))): route for route in api}
    aliases = [route for route in api if route.path.startswith(SDK_PREFIX)]
    assert len(aliases) > 70
    for alias in aliases:
        original = documented[
            (PREFIX + alias.path.removeprefix(SDK_PREFIX), tuple(sorted(alias.methods or ())))
        ]
        assert alias is not original
        assert not alias.include_in_schema
        assert alias.endpoint is original.endpoint
        assert alias.dependant is original.dependant
        assert alias.path_regex.match(alias.path)
        assert not alias.path_regex.match(original.path)


def _endpoint(name: str) -> Any:
    async def endpoint() -> dict[str, str]:
        return {"route": name}

    return endpoint


def _router(*paths: str) -> APIRouter:
    router = APIRouter()
    for path in paths:
        router.add_api_route(path, _endpoint(path), methods=["GET"])
    return router


def test_routes_built_later_stand_where_they_were_added() -> None:
    app = FastAPI()
    lazy = LazyRoutes(app)
    include_flat(app, _router("/a", "/b/{x}"))
    lazy.add(("/b/", "/c"), lambda: include_flat(app, _router("/b/later", "/c")))
    lazy.add(("/d",), lambda: include_flat(app, _router("/d")))
    include_flat(app, _router("/e"))
    lazy.add(("/f",), lambda: include_flat(app, _router("/f")))
    lazy.index()
    lazy.load()
    assert [route.path for route in app.router.routes if isinstance(route, APIRoute)] == [
        "/a",
        "/b/{x}",
        "/b/later",
        "/c",
        "/d",
        "/e",
        "/f",
    ]
