"""/docs (Swagger UI) and /redoc (ReDoc), rendered from assets openlinq serves itself.

FastAPI's own pages load their JavaScript and CSS from a CDN and are blank offline. The
assets here come from the pinned ``fastapi-offline`` package (Swagger UI 5, ReDoc 2,
MIT), mounted under ``DOCS_ASSETS_URL`` beside the console's own static files.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OPENAPI_URL = "/openapi.json"
DOCS_ASSETS_URL = "/static/docs"
# The package's asset folder: its file names are what its own pages link to.
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

# No online validator badge: Swagger UI would otherwise ask validator.swagger.io about the spec.
_SWAGGER_PARAMETERS = {"validatorUrl": None}
# The pages may load only from this server. The inline parts are FastAPI's start-up script and
# the bundles' own styles; ReDoc's search runs in a blob: worker. This also keeps ReDoc from
# fetching the one thing it still takes from its CDN (the sidebar's "by Redocly" logo).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'self'"
)


def mount_docs(app: FastAPI) -> None:
    """Serve the two documentation pages and their assets (only called with docs on)."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_swagger_ui_html(
            openapi_url=root + OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            swagger_ui_parameters=_SWAGGER_PARAMETERS,
        )
        return _confined(page)

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_redoc_html(
            openapi_url=root + OPENAPI_URL,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            # The fonts would come from Google's CDN; ReDoc falls back to system fonts.
            with_google_fonts=False,
        )
        return _confined(page)


def _confined(page: HTMLResponse) -> HTMLResponse:
    page.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
    return page


def _root(request: Request) -> str:
    """The prefix a proxy mounted us under (ASGI root_path), as FastAPI's own pages use it."""
    return str(request.scope.get("root_path", "")).rstrip("/")
