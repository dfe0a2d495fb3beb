"""Request dependencies: the wired services, the authenticated account, query quirks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from openlinq.domain.models import Account
from openlinq.wiring import Services

_bearer = HTTPBearer(auto_error=False, description="Your API key, as `Bearer <key>`.")


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    # async, though it never awaits: FastAPI runs a plain ``def`` dependency in its thread
    # pool, a thread hand-off per request for a dictionary lookup.
    return services_of(request)


async def get_account(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Account:
    services = services_of(request)
    return await services.accounts.authenticate(credentials.credentials if credentials else None)


ServicesDep = Annotated[Services, Depends(get_services)]
AccountDep = Annotated[Account, Depends(get_account)]


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
