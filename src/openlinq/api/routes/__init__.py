"""One module per API resource; ``mount_routes`` puts them under /v3 and /api/partner/v3.

What a server may never be asked for (the API resources marked lazy in ``API_MODULES``,
the simulator's control API and pages, the checkout page) is mounted through
``LazyRoutes``: the modules are imported and the routes built on first use
(api/lazy.py). The /api/partner/v3 routes are aliases of the /v3 ones
(``alias_routes``): the same built route under a second path.
"""

from __future__ import annotations

import copy
import functools
import importlib
from collections.abc import Sequence

from fastapi import Depends, FastAPI, params
from fastapi.routing import APIRoute, APIRouter
from starlette.routing import compile_path

from openlinq.api.lazy import LazyRoutes
from openlinq.api.routing import include_flat
from openlinq.api.schemas.common import ERROR_RESPONSES
from openlinq.config import Settings

# In their mounting order (which decides which of two matching routes answers). Lazy ones
# name the heads of their paths (after the prefix): a request under one builds them.
API_MODULES: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("chats", None),
    ("messages", None),
    ("attachments", None),
    ("phone_numbers", None),
    ("reputation", ("/phone_numbers/",)),
    ("capability", None),
    ("contact_cards", ("/contact_card",)),
    ("webhooks", ("/webhook-",)),
    ("polls", ("/chats/", "/messages/")),
    ("blocked_handles", ("/blocked_handles",)),
    ("backgrounds", ("/chats/",)),
    ("agentpay", ("/payments",)),
    ("payment_requests", ("/payment_requests",)),
    ("experiences", ("/experiences",)),
)
# The simulator's control API (the operator's, in hosted mode) and its pages, in order.
SIMULATOR_ROUTERS = (
    ("simulator", "router"),
    ("sim_lines", "router"),
    ("harness", "accounts_router"),
    ("harness", "router"),
    ("agentcard", "router"),
)
SIMULATOR_PAGES = (("simulator", "jobs_router"), ("agentcard", "pages_router"))
# The routes the SDKs call (their base URL is .../api/partner) and the documented prefix.
SDK_PREFIX = "/api/partner/v3"
PREFIX = "/v3"


def _router(name: str, attribute: str = "router") -> APIRouter:
    router: APIRouter = getattr(importlib.import_module(f"openlinq.api.routes.{name}"), attribute)
    return router


def alias_routes(app: FastAPI, routes: Sequence[APIRoute], old: str, new: str) -> None:
    """Add each of ``routes`` again with its path's ``old`` prefix replaced by ``new``.

    A shallow copy: the alias shares the route's dependant, validators and handler (about
    20 KiB a route that FastAPI would otherwise build again) and has its own path. Out of
    the OpenAPI document, as the second copy of a route was before.
    """
    for route in routes:
        alias = copy.copy(route)
        alias.path = new + route.path.removeprefix(old)
        alias.path_regex, alias.path_format, alias.param_convertors = compile_path(alias.path)
        alias.include_in_schema = False
        app.router.routes.append(alias)


def mount_routes(app: FastAPI, settings: Settings, lazy: LazyRoutes) -> None:
    built: dict[str, list[APIRoute]] = {}

    def mount_api(name: str) -> None:
        before = len(app.router.routes)
        include_flat(app, _router(name), prefix=PREFIX, responses=ERROR_RESPONSES)
        built[name] = [r for r in app.router.routes[before:] if isinstance(r, APIRoute)]

    def mount_alias(name: str) -> None:
        alias_routes(app, built[name], PREFIX, SDK_PREFIX)

    for mount in (mount_api, mount_alias):
        for name, heads in API_MODULES:
            if heads is None:
                mount(name)
            else:
                # Either prefix builds both: the alias copies the /v3 routes.
                prefixes = tuple(prefix + head for prefix in (PREFIX, SDK_PREFIX) for head in heads)
                lazy.add(prefixes, functools.partial(mount, name))
    _mount_simulator(app, settings, lazy)
    include_flat(app, _router("system"))
    if settings.metrics_exposed:
        include_flat(app, _router("metrics"))
    include_flat(app, _router("files"))
    lazy.add(("/pay/",), lambda: include_flat(app, _router("checkout")))


def _mount_simulator(app: FastAPI, settings: Settings, lazy: LazyRoutes) -> None:
    dependencies: list[params.Depends] = []
    if settings.hosted_mode:
        if not settings.operator_api_key:
            return  # hosted: the simulator is the operator's tool (absent without an operator key)
        from openlinq.api.routes.simulator import require_operator

        dependencies = [Depends(require_operator)]

    def include(name: str, attribute: str = "router") -> None:
        include_flat(
            app, _router(name, attribute), responses=ERROR_RESPONSES, dependencies=dependencies
        )

    for name, attribute in SIMULATOR_ROUTERS:
        lazy.add(("/sim/v1/",), functools.partial(include, name, attribute))
    if not settings.hosted_mode:
        for name, attribute in SIMULATOR_PAGES:
            lazy.add(("/sim/v1/",), functools.partial(include, name, attribute))
