"""create_app(settings): the FastAPI application around the wired services."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from openlinq import __version__, metrics
from openlinq.api.access_log import AccessLogMiddleware
from openlinq.api.carriers import mount_carriers
from openlinq.api.docs import OPENAPI_URL, mount_docs
from openlinq.api.errors import install_error_handlers
from openlinq.api.inputs import InputGuardMiddleware
from openlinq.api.lazy import LazyRoutes, openapi_with_lazy_routes
from openlinq.api.limits import BodyLimitMiddleware
from openlinq.api.routes import mount_routes
from openlinq.api.tracing import TraceMiddleware
from openlinq.config import Settings
from openlinq.console.pages import mount_console
from openlinq.domain.accounts import Sandbox
from openlinq.domain.clock import ManualClock
from openlinq.wiring import Services, background_worker, build_services, start, stop


def create_app(
    settings: Settings,
    services: Services | None = None,
    on_started: Callable[[Sandbox | None], None] | None = None,
    *,
    migrate: bool = True,
) -> FastAPI:
    # FastAPI imports pydantic.v1 (1.4 MiB) to ask of every route it builds whether it uses
    # a pydantic v1 model, only to refuse one. No code of ours does; without the module,
    # FastAPI answers "no" (its own way when pydantic has no v1).
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]
    services = services or build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sandbox = await start(services, migrate=migrate)
        app.state.sandbox = sandbox
        if on_started is not None:
            on_started(sandbox)
        # With a manual clock nothing runs by itself: /sim/v1/clock/advance drives the jobs.
        run_jobs = settings.run_worker and not isinstance(services.clock, ManualClock)
        try:
            async with background_worker(services) if run_jobs else contextlib.nullcontext():
                yield
        finally:
            await stop(services)
            metrics.process_exiting()

    app = FastAPI(
        title="openlinq",
        version=__version__,
        description="A self-hostable server for the Linq Partner API v3, "
        "with a simulator playing every recipient phone.",
        lifespan=lifespan,
        # FastAPI's own /docs and /redoc load their assets from a CDN: ours (api/docs.py) don't.
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL if settings.api_docs else None,
        # "/v3/chats/" is an unknown path (a Linq 404), not a bodiless 307 to "/v3/chats".
        redirect_slashes=False,
        # No OpenTelemetry here: FastAPI would otherwise ask for its providers per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    install_error_handlers(app)
    # Innermost first: the guard reads bodies the limit has already bounded.
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(TraceMiddleware)
    if settings.metrics_exposed:
        app.add_middleware(metrics.MetricsMiddleware)
    if settings.access_log_enabled:
        # Outermost: it times the whole request and reads the trace id off the response.
        app.add_middleware(AccessLogMiddleware)
    # Rarely used features' routes are built on first use (api/lazy.py).
    lazy = app.state.lazy_routes = LazyRoutes(app)
    mount_routes(app, settings, lazy)
    mount_carriers(app, services.carriers, lazy)
    mount_console(app, lazy)
    if settings.api_docs:
        mount_docs(app)
    lazy.index()
    openapi_with_lazy_routes(app, lazy)
    return app
