"""Rendering console pages: one Jinja2 environment over the package's templates."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from openlinq.console.access import ACCOUNT_COOKIE, Console
from openlinq.domain.clock import ManualClock

if TYPE_CHECKING:
    from jinja2 import Environment


# Console pages run only their own script and style, load only this server's files (an
# outside image, such as a group icon URL, is not fetched), and cannot be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def _time(value: datetime | str | None, fmt: str = "%H:%M:%S") -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime(fmt)


@cache
def _templates() -> Environment:
    """Built by the first console page: a server nobody opens the console on never loads Jinja2."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("openlinq.console", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = _time
    env.filters["datetime"] = lambda value: _time(value, "%Y-%m-%d %H:%M:%S UTC")
    return env


def render(
    request: Request, console: Console, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A whole page (``template`` extends base.html) or a fragment (any other template)."""
    clock = console.services.clock
    html = (
        _templates()
        .get_template(template)
        .render(
            request=request,
            console=console,
            now=clock.now(),
            manual_clock=isinstance(clock, ManualClock),
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    if request.query_params.get("account") == console.account.id:
        # A page opened for an account keeps showing it as you move between pages.
        response.set_cookie(ACCOUNT_COOKIE, console.account.id, samesite="strict", path="/console")
    return response


def render_bare(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page that needs no account (the hosted sign-in form)."""
    html = _templates().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
