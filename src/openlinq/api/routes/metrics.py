"""GET /metrics: the Prometheus exposition (openlinq.metrics), behind a token if one is set."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from openlinq import metrics
from openlinq.api.deps import ServicesDep
from openlinq.domain.errors import ErrorCode, LinqError

_bearer = HTTPBearer(auto_error=False)


async def require_metrics_token(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    expected = services.settings.metrics_token
    if expected is None:
        return  # local mode without a token: open, like the rest of a developer's server
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise LinqError(
            ErrorCode.UNAUTHORIZED,
            "/metrics needs the metrics token (Authorization: Bearer <OPENLINQ_METRICS_TOKEN>)",
        )


router = APIRouter(tags=["system"])


@router.get(
    "/metrics",
    include_in_schema=False,
    response_class=Response,
    dependencies=[Depends(require_metrics_token)],
)
async def scrape(services: ServicesDep) -> Response:
    body = await metrics.scrape(services.storage, services.clock.now())
    return Response(body, media_type=metrics.CONTENT_TYPE)
