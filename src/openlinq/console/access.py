"""Who may open the console, which account it shows, and the rule every action follows.

Local mode: open without a login, as a local mail catcher is (the console is a tool on the
developer's own machine). Hosted mode: absent unless ``OPENLINQ_OPERATOR_API_KEY`` is
set, and then only after signing in with that key (an HttpOnly cookie holding a MAC of it).

Every action (any method but GET) must carry the page's token in ``X-Console-Token``. A
page of another origin cannot add a custom header without a CORS preflight, which this
server never grants, so a forged form or fetch is refused (CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from openlinq.api.deps import services_of
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import AccountId
from openlinq.domain.models import Account, Line
from openlinq.wiring import Services

SESSION_COOKIE = "olq_console"
ACCOUNT_COOKIE = "olq_account"
TOKEN_HEADER = "X-Console-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD"})


def _mac(services: Services, purpose: str) -> str:
    key = services.links.secret.encode()
    return hmac.new(key, purpose.encode(), hashlib.sha256).hexdigest()


def action_token(services: Services) -> str:
    return _mac(services, "console-action")


def session_value(services: Services) -> str:
    operator = services.settings.operator_api_key or ""
    return _mac(services, "console-session:" + hashlib.sha256(operator.encode()).hexdigest())


def console_enabled(services: Services) -> bool:
    return not services.settings.hosted_mode or bool(services.settings.operator_api_key)


def signed_in(request: Request, services: Services) -> bool:
    if not services.settings.hosted_mode:
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(services).encode())


def operator_key_matches(services: Services, key: str) -> bool:
    expected = services.settings.operator_api_key or ""
    return bool(expected) and hmac.compare_digest(key.encode(), expected.encode())


class SignInRequiredError(Exception):
    """Hosted mode, no session: pages send the browser to the sign-in form."""


@dataclass(frozen=True)
class Console:
    """What every console page and action works with."""

    services: Services
    accounts: list[tuple[Account, list[Line]]]
    account: Account
    lines: list[Line]
    token: str

    @property
    def account_id(self) -> AccountId:
        return self.account.id


def _chosen(request: Request, accounts: list[tuple[Account, list[Line]]]) -> int:
    wanted = request.query_params.get("account") or request.cookies.get(ACCOUNT_COOKIE)
    sandbox = getattr(request.app.state, "sandbox", None)
    for wanted_id in (wanted, sandbox.account.id if sandbox else None):
        for index, (account, _) in enumerate(accounts):
            if account.id == wanted_id:
                return index
    return 0


async def console_access(request: Request) -> Console:
    services = services_of(request)
    if not console_enabled(services):
        raise LinqError(ErrorCode.INVALID_PARAMETER, "no such endpoint", http_status=404)
    if not signed_in(request, services):
        if request.method in _SAFE_METHODS:
            raise SignInRequiredError
        raise LinqError(ErrorCode.UNAUTHORIZED, "sign in to the console with the operator key")
    token = action_token(services)
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise LinqError(ErrorCode.ACCESS_DENIED, "console actions need the page's token")
    accounts = await services.accounts.list_accounts()
    if not accounts:
        raise LinqError(ErrorCode.STATE_CONFLICT, "this server has no account yet")
    account, lines = accounts[_chosen(request, accounts)]
    lines = [line for line in lines if line.released_at is None]  # released: not the account's
    return Console(services, accounts, account, lines, token)


ConsoleDep = Annotated[Console, Depends(console_access)]
