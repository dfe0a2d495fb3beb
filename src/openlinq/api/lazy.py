"""Routes built on first use: a server at rest keeps only the routes it is likely to serve.

Each route FastAPI builds costs about 20 KiB (its dependant, validators, response field)
and its module, schemas and pages more. Rarely used features (polls, payments, audits,
the simulator, the console, ...) are registered with ``LazyRoutes.add`` and the path
prefixes they serve. A request that no built route matches in full reaches the route
index's fallback (so a request to a built route pays nothing): the pending features
under its path are imported and built (from 10 ms for blocked handles to 0.3 s of CPU
for the simulator's 40 routes, once), and the request is dispatched again. /openapi.json
builds them all. Each route is put where eager mounting would have put it, so the router,
the route index and the OpenAPI document see exactly what they saw before.

A lazy route must be the only route, outside its own feature, that matches its requests
(another would answer in its place while the feature is pending), and every path a
feature serves must start with one of its prefixes (``load`` checks that):
tests/unit/test_lazy_routes.py checks both for every lazy route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from openlinq.api.routing import index_routes

Mount = Callable[[], object]


@dataclass(frozen=True)
class _Pending:
    position: int  # routes built before it was added
    order: int  # its place among the lazy features
    prefixes: tuple[str, ...]  # every path it serves starts with one of them
    mount: Mount


class LazyRoutes:
    """The features whose routes are built on first use (``app.state.lazy_routes``)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._pending: list[_Pending] = []
        self._added = 0
        # Each route's place in the order eager mounting gives (see ``load``).
        self._rank: dict[int, tuple[int, ...]] = {}
        # The router's own dispatch (404s, 405s): the route index's fallback before ours.
        self._router = app.router.middleware_stack

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def add(self, prefixes: tuple[str, ...], mount: Mount) -> None:
        """Build ``mount``'s routes, whose paths start with one of ``prefixes``, on first use,
        where they would stand if mounted now."""
        self._pending.append(_Pending(len(self.app.router.routes), self._added, prefixes, mount))
        self._added += 1

    def feature_of(self, route: BaseRoute) -> int | None:
        """The lazy feature that built ``route`` (in order of addition); None: built at start."""
        rank = self._rank.get(id(route))
        return rank[2] if rank is not None and rank[1] == 0 else None

    def index(self) -> None:
        """Index the routes built so far; a request none of them matches builds the rest."""
        if not self._rank:  # nothing is built lazily yet: these are the eager routes
            self._rank = {id(route): (n, 1) for n, route in enumerate(self.app.router.routes)}
        self.app.router.middleware_stack = self._router
        index_routes(self.app)
        if self._pending:
            index: Any = self.app.router.middleware_stack
            index.fallback = self

    def load(self, path: str | None = None) -> bool:
        """Build the pending features that serve ``path`` (all of them without one), each
        route where eager mounting would have put it. False: none was pending for it."""
        chosen = [p for p in self._pending if path is None or path.startswith(p.prefixes)]
        if not chosen:
            return False
        self._pending = [p for p in self._pending if p not in chosen]
        routes = self.app.router.routes
        for feature in chosen:
            built = len(routes)
            feature.mount()
            for n, route in enumerate(routes[built:]):
                path = str(getattr(route, "path", ""))
                if not path.startswith(feature.prefixes):  # it would be built too late
                    raise RuntimeError(f"{path} (built lazily) is not under {feature.prefixes}")
                # Before the route that was at ``position`` when the feature was added.
                self._rank[id(route)] = (feature.position, 0, feature.order, n)
        last = (len(routes), 2)  # a route added some other way: after the rest, in order
        routes.sort(key=lambda route: self._rank.get(id(route), last))
        self.index()
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.load(scope["path"]):
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
