"""Routes built on first use: a server at rest keeps only the routes it is likely to serve.

Each route FastAPI builds costs about 20 KiB (its dependant, validators, response field)
and its module, schemas and pages more. Rarely used features (polls, payments, audits,
the console, ...) are registered with ``LazyRoutes.add``: their modules are imported and
their routes built on the first request that no built route matches in full (the route
index's fallback, so a request to a built route pays nothing), or when the OpenAPI
document is asked for. Every pending feature is built then, and the routes are put back
in the order eager mounting would have given them, so the router, the route index and
/openapi.json see exactly what they saw before.

That first request is then served by the rebuilt index: it answers as it always did. A
lazy route must not be fully matched by an eagerly built route that comes after it (the
eager one would answer instead, before the lazy one is built):
tests/unit/test_lazy_routes.py checks every lazy route for that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from openlinq.api.routing import index_routes

Mount = Callable[[], object]


class LazyRoutes:
    """The features whose routes are built on first use (``app.state.lazy_routes``)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # (routes built before it, registration order, how to mount it)
        self._pending: list[tuple[int, int, Mount]] = []
        # The router's own dispatch (404s, 405s): the route index's fallback before ours.
        self._router = app.router.middleware_stack

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def add(self, mount: Mount) -> None:
        """Build ``mount``'s routes later, where they would stand if mounted now."""
        self._pending.append((len(self.app.router.routes), len(self._pending), mount))

    def index(self) -> None:
        """Index the routes built so far; a request none of them matches builds the rest."""
        self.app.router.middleware_stack = self._router
        index_routes(self.app)
        if self._pending:
            index: Any = self.app.router.middleware_stack
            index.fallback = self

    def load(self) -> None:
        """Build every pending feature's routes, in their eagerly mounted order."""
        if not self._pending:
            return
        routes = self.app.router.routes
        rank: dict[int, tuple[int, ...]] = {id(route): (n, 1) for n, route in enumerate(routes)}
        pending, self._pending = self._pending, []
        for position, order, mount in pending:
            built = len(routes)
            mount()
            for n, route in enumerate(routes[built:]):
                # Before the route that was at ``position`` when it was added.
                rank[id(route)] = (position, 0, order, n)
        routes.sort(key=lambda route: rank[id(route)])
        self.index()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._pending and scope["type"] == "http":
            self.load()
            await self.app.router.middleware_stack(scope, receive, send)
            return
        await self._router(scope, receive, send)


def openapi_with_lazy_routes(app: FastAPI, lazy: LazyRoutes) -> None:
    """Make /openapi.json (``app.openapi()``) build the pending routes before it documents."""
    document = app.openapi

    def openapi() -> dict[str, Any]:
        lazy.load()
        return document()

    app.openapi = openapi  # type: ignore[method-assign]
