"""One module per API resource; ``mount_routes`` puts them under /v3 and /api/partner/v3."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from openlinq.api.routes import (
    agentcard,
    agentpay,
    attachments,
    backgrounds,
    blocked_handles,
    capability,
    chats,
    checkout,
    contact_cards,
    experiences,
    files,
    harness,
    messages,
    metrics,
    payment_requests,
    phone_numbers,
    polls,
    reputation,
    sim_lines,
    simulator,
    system,
    webhooks,
)
from openlinq.api.routing import include_flat
from openlinq.api.schemas.common import ERROR_RESPONSES
from openlinq.config import Settings

API_MODULES = (
    chats,
    messages,
    attachments,
    phone_numbers,
    reputation,
    capability,
    contact_cards,
    webhooks,
    polls,
    blocked_handles,
    backgrounds,
    agentpay,
    payment_requests,
    experiences,
)


def mount_routes(app: FastAPI, settings: Settings) -> None:
    # The SDKs' base URL is .../api/partner; the same routes answer at /v3 too.
    for prefix, in_schema in (("/v3", True), ("/api/partner/v3", False)):
        for module in API_MODULES:
            include_flat(
                app,
                module.router,
                prefix=prefix,
                responses=ERROR_RESPONSES,
                include_in_schema=in_schema,
            )
    sim_routers = (
        simulator.router,
        sim_lines.router,
        harness.accounts_router,
        harness.router,
        agentcard.router,
    )
    if not settings.hosted_mode:
        for router in (*sim_routers, simulator.jobs_router, agentcard.pages_router):
            include_flat(app, router, responses=ERROR_RESPONSES)
    elif settings.operator_api_key:
        # Hosted: the simulator is the operator's tool (absent without an operator key).
        for router in sim_routers:
            include_flat(
                app,
                router,
                responses=ERROR_RESPONSES,
                dependencies=[Depends(simulator.require_operator)],
            )
    include_flat(app, system.router)
    if settings.metrics_exposed:
        include_flat(app, metrics.router)
    include_flat(app, files.router)
    include_flat(app, checkout.router)
