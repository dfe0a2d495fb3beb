"""Request dependencies: the wired services, the authenticated account, query quirks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param

from openlinq.domain.models import Account
from openlinq.wiring import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    # async, though it never awaits: FastAPI runs a plain ``def`` dependency in its thread
    # pool, a thread hand-off per request for a dictionary lookup.
    return services_of(request)


class BearerAccount(SecurityBase):
    """The account a request's ``Authorization: Bearer <key>`` authenticates.

    One dependency that is also the OpenAPI document's bearer scheme (what FastAPI's
    ``HTTPBearer`` would declare): FastAPI's dependency solving costs per dependency on
    every request, and a scheme plus an account were two."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(description="Your API key, as `Bearer <key>`.")
        self.scheme_name = "HTTPBearer"

    async def __call__(self, request: Request) -> Account:
        scheme, key = get_authorization_scheme_param(request.headers.get("Authorization"))
        bearer = key if scheme.lower() == "bearer" else None
        return await services_of(request).accounts.authenticate(bearer)


ServicesDep = Annotated[Services, Depends(get_services)]
AccountDep = Annotated[Account, Security(BearerAccount())]


def phone_query(value: str | None) -> str | None:
    """A phone number from a query string; a raw ``+`` decodes to a space, so restore it."""
    if value is None:
        return None
    return "+" + value[1:] if value.startswith(" ") else value


def list_query(values: list[str] | None) -> list[str]:
    """Array query parameters arrive comma-joined (the SDK) or repeated (the docs): take both."""
    items: list[str] = []
    for value in values or []:
        items.extend(phone_query(item.rstrip()) or "" for item in value.split(","))
    return [item for item in items if item]
