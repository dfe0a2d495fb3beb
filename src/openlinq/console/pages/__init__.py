"""One module per console page; ``mount_console`` puts them under /console.

The pages are built on first use (api/lazy.py): a server nobody opens the console of
never imports them.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from openlinq.api.lazy import LazyRoutes
from openlinq.api.routing import include_flat
from openlinq.console.access import SignInRequiredError

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGES = ("session", "live", "inbox", "chat", "phones", "wallet", "webhooks", "lines", "clock")


def mount_pages(app: FastAPI) -> None:
    for page in PAGES:
        module = importlib.import_module(f"openlinq.console.pages.{page}")
        include_flat(app, module.router, prefix="/console", include_in_schema=False)


def mount_console(app: FastAPI, lazy: LazyRoutes) -> None:
    lazy.add(("/console",), functools.partial(mount_pages, app))
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/console", status_code=302)

    @app.exception_handler(SignInRequiredError)
    async def sign_in(request: Request, exc: SignInRequiredError) -> Response:
        return RedirectResponse("/console/sign-in", status_code=303)
