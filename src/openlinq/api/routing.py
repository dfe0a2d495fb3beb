"""Finding a request's route in microseconds, not by trying every route in turn.

FastAPI 0.163 includes routers lazily: a request walks every included router and
tries each route (about 5 µs a try), twice (to match, then to handle). With the API
served under both /v3 and /api/partner/v3 plus the simulator and the console, that
is some 270 routes, and finding one took 0.3 to 0.6 ms, more than the rest of a GET.

So routers are included flat (``include_flat``: plain routes on the application,
copied through FastAPI's public ``add_api_route``), and ``RouteIndex`` tries only
the routes whose literal leading segments are a prefix of the request's path, in
their original order. Whatever it does not match goes to the router's own dispatch
(405s, 404s, partial matches), so behaviour is the router's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, params
from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

_PARAMETER = re.compile(r"\{[^}]*\}")


def include_flat(
    app: FastAPI,
    router: APIRouter,
    *,
    prefix: str = "",
    responses: dict[int | str, dict[str, Any]] | None = None,
    dependencies: Sequence[params.Depends] = (),
    include_in_schema: bool = True,
) -> None:
    """``app.include_router`` with the same result, as plain routes on ``app``."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"only API routes can be included flat, not {route!r}")
        app.add_api_route(
            prefix + route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            tags=list(route.tags),
            dependencies=[*dependencies, *route.dependencies],
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses={**(responses or {}), **route.responses},
            deprecated=route.deprecated,
            methods=sorted(route.methods or ()),
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=include_in_schema and route.include_in_schema,
            response_class=route.response_class,
            name=route.name,
            openapi_extra=route.openapi_extra,
        )


def _literal_prefix(route: BaseRoute) -> tuple[str, ...] | None:
    """The path segments before the first parameter, or None for a route we don't index."""
    if not isinstance(route, Mount | Route):
        return None
    path = route.path
    literal = _PARAMETER.split(path, maxsplit=1)[0]
    segments = literal.split("/")[1:]
    if _PARAMETER.search(path):
        segments = segments[:-1]  # the segment holding the parameter is not literal
    return tuple(segments)


class RouteIndex:
    """A router-level dispatch that tries only the routes a path can match."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.fallback: ASGIApp = router.middleware_stack
        # (method, or None for routes of any method; literal prefix) -> (position, route)
        direct: dict[tuple[str | None, tuple[str, ...]], list[tuple[int, BaseRoute]]] = defaultdict(
            list
        )
        for position, route in enumerate(router.routes):
            prefix = _literal_prefix(route)
            if prefix is None:
                raise TypeError(f"route {route!r} cannot be indexed")
            for method in getattr(route, "methods", None) or (None,):
                direct[method, prefix].append((position, route))
        self.methods = {method for method, _ in direct if method is not None}
        # Each entry holds its prefix's routes and those of every shorter prefix, so a
        # lookup is the longest prefix of the path that has an entry.
        self.index: dict[tuple[str | None, tuple[str, ...]], list[BaseRoute]] = {}
        for method in (*self.methods, None):
            for prefix in {prefix for _, prefix in direct}:
                found = [
                    item
                    for length in range(len(prefix) + 1)
                    for key in {(method, prefix[:length]), (None, prefix[:length])}
                    for item in direct.get(key, ())
                ]
                if found:
                    self.index[method, prefix] = [route for _, route in sorted(found)]

    def candidates(self, method: str, path: str) -> list[BaseRoute]:
        """The routes that can match, in the router's order."""
        key = method if method in self.methods else None
        segments = tuple(path.split("/")[1:])
        for length in range(len(segments), -1, -1):
            found = self.index.get((key, segments[:length]))
            if found is not None:
                return found
        return []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.candidates(scope["method"], scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self.router)
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self.fallback(scope, receive, send)


def index_routes(app: FastAPI) -> None:
    """Dispatch ``app``'s requests through a ``RouteIndex`` (call once every route is added)."""
    app.router.middleware_stack = RouteIndex(app.router)
