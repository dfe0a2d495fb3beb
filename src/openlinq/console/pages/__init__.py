"""One module per console page; ``mount_console`` puts them under /console."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from openlinq.api.routing import include_flat
from openlinq.console.access import SignInRequiredError
from openlinq.console.pages import (
    chat,
    clock,
    inbox,
    lines,
    live,
    phones,
    session,
    wallet,
    webhooks,
)

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGES = (session, live, inbox, chat, phones, wallet, webhooks, lines, clock)


def mount_console(app: FastAPI) -> None:
    for page in PAGES:
        include_flat(app, page.router, prefix="/console", include_in_schema=False)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/console", status_code=302)

    @app.exception_handler(SignInRequiredError)
    async def sign_in(request: Request, exc: SignInRequiredError) -> Response:
        return RedirectResponse("/console/sign-in", status_code=303)
