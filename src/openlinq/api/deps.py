"""Request dependencies: the wired services, the authenticated account, query quirks."""

from __future__ import annotations

from dataclasses import dataclass
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


class _Bearer(SecurityBase):
    """The OpenAPI document's bearer scheme (what FastAPI's ``HTTPBearer`` declares) that
    also authenticates: FastAPI's dependency solving costs per dependency on every
    request, and a scheme, an account and the services were three."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(description="Your API key, as `Bearer <key>`.")
        self.scheme_name = "HTTPBearer"

    @staticmethod
    async def _account(request: Request, services: Services) -> Account:
        scheme, key = get_authorization_scheme_param(request.headers.get("Authorization"))
        return await services.accounts.authenticate(key if scheme.lower() == "bearer" else None)


class _BearerAccount(_Bearer):
    async def __call__(self, request: Request) -> Account:
        return await self._account(request, services_of(request))


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated account and the services: what the hot reads take, in one."""

    account: Account
    services: Services


class _BearerCaller(_Bearer):
    async def __call__(self, request: Request) -> Caller:
        services = services_of(request)
        return Caller(await self._account(request, services), services)


ServicesDep = Annotated[Services, Depends(get_services)]
AccountDep = Annotated[Account, Security(_BearerAccount())]
CallerDep = Annotated[Caller, Security(_BearerCaller())]


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
