"""Rendering console pages: one Jinja2 environment over the package's templates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from openlinq.console.access import ACCOUNT_COOKIE, Console
from openlinq.domain.clock import ManualClock

_env = Environment(
    loader=PackageLoader("openlinq.console", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _time(value: datetime | str | None, fmt: str = "%H:%M:%S") -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime(fmt)


_env.filters["time"] = _time
_env.filters["datetime"] = lambda value: _time(value, "%Y-%m-%d %H:%M:%S UTC")


def render(
    request: Request, console: Console, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A whole page (``template`` extends base.html) or a fragment (any other template)."""
    clock = console.services.clock
    html = _env.get_template(template).render(
        request=request,
        console=console,
        now=clock.now(),
        manual_clock=isinstance(clock, ManualClock),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    if request.query_params.get("account") == console.account.id:
        # A page opened for an account keeps showing it as you move between pages.
        response.set_cookie(ACCOUNT_COOKIE, console.account.id, samesite="strict", path="/console")
    return response


def render_bare(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page that needs no account (the hosted sign-in form)."""
    return HTMLResponse(_env.get_template(template).render(**context), status_code=status_code)
