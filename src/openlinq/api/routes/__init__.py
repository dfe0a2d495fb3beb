"""One module per API resource; ``mount_routes`` puts them under /v3 and /api/partner/v3."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from openlinq.api.routes import (
    attachments,
    capability,
    chats,
    contact_cards,
    extras,
    files,
    harness,
    messages,
    metrics,
    phone_numbers,
    simulator,
    system,
    webhooks,
)
from openlinq.api.schemas.common import ERROR_RESPONSES
from openlinq.config import Settings


def mount_routes(app: FastAPI, settings: Settings) -> None:
    v3 = APIRouter(prefix="/v3", responses=ERROR_RESPONSES)
    for module in (
        chats,
        messages,
        attachments,
        phone_numbers,
        capability,
        contact_cards,
        webhooks,
        extras,
    ):
        v3.include_router(module.router)
    app.include_router(v3)
    # The SDKs' base URL is .../api/partner; the same routes answer there too.
    app.include_router(v3, prefix="/api/partner", include_in_schema=False)
    if not settings.hosted_mode:
        app.include_router(simulator.router, responses=ERROR_RESPONSES)
        app.include_router(simulator.jobs_router, responses=ERROR_RESPONSES)
        app.include_router(harness.accounts_router, responses=ERROR_RESPONSES)
        app.include_router(harness.router, responses=ERROR_RESPONSES)
    elif settings.operator_api_key:
        # Hosted: the simulator is the operator's tool (absent without an operator key).
        app.include_router(
            simulator.router,
            responses=ERROR_RESPONSES,
            dependencies=[Depends(simulator.require_operator)],
        )
        for router in (harness.accounts_router, harness.router):
            app.include_router(
                router,
                responses=ERROR_RESPONSES,
                dependencies=[Depends(simulator.require_operator)],
            )
    app.include_router(system.router)
    if settings.metrics_exposed:
        app.include_router(metrics.router)
    app.include_router(files.router)
