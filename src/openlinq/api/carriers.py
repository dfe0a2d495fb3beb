"""Carriers' inbound HTTP endpoints (a gateway's webhooks), each under its line's token.

A carrier with an inbound router (``CarrierKind.inbound``) gets it mounted at
``/carriers/<name>/{line_token}``; its handlers find their carrier with
``services.carriers.inbound(name, line_token)``. Outside the API schema: these are
for gateways, not partners.
"""

from __future__ import annotations

import functools
import importlib
from typing import cast

from fastapi import APIRouter, FastAPI

from openlinq.api.lazy import LazyRoutes
from openlinq.api.routing import include_flat
from openlinq.delivery.routing import CarrierRegistry

PREFIX = "/carriers/"


def loggable_path(path: str) -> str:
    """``path`` with a carrier endpoint's line token masked: the token is a credential."""
    if not path.startswith(PREFIX):
        return path
    name, sep, rest = path[len(PREFIX) :].partition("/")
    _token, slash, tail = rest.partition("/")
    return f"{PREFIX}{name}{sep}…{slash}{tail}" if sep else path


def mount_carriers(app: FastAPI, carriers: CarrierRegistry, lazy: LazyRoutes) -> None:
    """Each carrier's inbound router, built on first use: most servers have no such line."""
    for kind in carriers.kinds.values():
        if kind.inbound is not None:
            mount = functools.partial(_mount_inbound, app, kind.name, kind.inbound)
            lazy.add((f"{PREFIX}{kind.name}/",), mount)


def _mount_inbound(app: FastAPI, name: str, inbound: str) -> None:
    module, _, attribute = inbound.partition(":")
    try:
        router = cast(APIRouter, getattr(importlib.import_module(module), attribute))
    except ModuleNotFoundError as missing:
        if missing.name and module.startswith(missing.name):
            return  # this build has no such carrier
        raise
    include_flat(app, router, prefix=f"{PREFIX}{name}/{{line_token}}", include_in_schema=False)
