"""Hosted mode's sign-in with the operator key, and the choice of account to show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openlinq.api.deps import ServicesDep
from openlinq.console.access import (
    ACCOUNT_COOKIE,
    SESSION_COOKIE,
    ConsoleDep,
    console_enabled,
    operator_key_matches,
    session_value,
)
from openlinq.console.render import render_bare
from openlinq.domain.errors import ErrorCode, LinqError

router = APIRouter()


def _require_console(services: ServicesDep) -> None:
    if not console_enabled(services):
        raise LinqError(ErrorCode.INVALID_PARAMETER, "no such endpoint", http_status=404)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(services: ServicesDep) -> Response:
    _require_console(services)
    return render_bare("sign_in.html", failed=False)


@router.post("/sign-in")
async def sign_in(
    request: Request, services: ServicesDep, key: Annotated[str, Form(max_length=512)]
) -> Response:
    # A plain form post: it runs before there is a page token to carry.
    _require_console(services)
    if not operator_key_matches(services, key):
        return render_bare("sign_in.html", status_code=401, failed=True)
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(services),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )
    return response


@router.post("/account")
async def choose_account(console: ConsoleDep, account: Annotated[str, Query()]) -> Response:
    """Remember which account the pages show (the account must exist)."""
    if all(a.id != account for a, _ in console.accounts):
        raise LinqError(ErrorCode.INVALID_PARAMETER, "no such account", http_status=404)
    response = Response(status_code=204)
    response.set_cookie(ACCOUNT_COOKIE, account, samesite="strict", path="/console")
    return response
