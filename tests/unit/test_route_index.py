"""The route index finds the route the router's own scan would find, for every route."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Mount, Route

from openlinq.api.routing import RouteIndex
from openlinq.app import create_app
from openlinq.config import Settings

_PARAMETER = re.compile(r"\{[^}]*\}")


@pytest.fixture(scope="module", params=["local", "hosted"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data_dir: Path = tmp_path_factory.mktemp(request.param)
    hosted = request.param == "hosted"
    settings = Settings(
        data_dir=data_dir,
        hosted_mode=hosted,
        operator_api_key="o" * 40 if hosted else None,
    )
    app = create_app(settings)
    app.state.lazy_routes.load()  # every route, the rarely used features' too (api/lazy.py)
    return app


def _scan(routes: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    """What the router does: the first route that fully matches."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def _requests(app: FastAPI) -> list[tuple[str, str]]:
    """A concrete request for every route: each parameter filled in, each method."""
    requests = []
    for route in app.router.routes:
        if isinstance(route, Mount):
            requests.append(("GET", f"{route.path}/some/file.css"))
        elif isinstance(route, Route):
            path = _PARAMETER.sub("3f1c2d7a-0000-4000-8000-000000000001", route.path)
            requests.extend((method, path) for method in route.methods or ("GET",))
    return requests


def test_every_route_is_found_as_the_router_finds_it(app: FastAPI) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    requests = _requests(app)
    assert len(requests) > 100
    for method, path in requests:
        expected = _scan(app.router.routes, method, path)
        assert expected is not None, (method, path)
        assert _scan(index.candidates(method, path), method, path) is expected, (method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v3/chats/"),  # a trailing slash is another path
        ("GET", "/nowhere"),
        ("PATCH", "/health"),  # a known path, another method: the router answers 405
        ("OPTIONS", "/v3/chats"),
        ("GET", "/"),
    ],
)
def test_paths_without_a_full_match_agree_with_the_router(
    app: FastAPI, method: str, path: str
) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    assert _scan(index.candidates(method, path), method, path) is _scan(
        app.router.routes, method, path
    )


def test_a_route_with_a_shorter_literal_prefix_is_still_a_candidate() -> None:
    app = FastAPI()

    @app.get("/a/b")
    async def literal() -> None: ...

    @app.get("/a/{x}/c")
    async def parametrised(x: str) -> None: ...

    index = RouteIndex(app.router)
    assert _scan(index.candidates("GET", "/a/b/c"), "GET", "/a/b/c") is app.router.routes[-1]
