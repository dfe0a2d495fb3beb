"""Unauthenticated endpoints: health, and the signed vCard links of available_number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from openlinq import __version__
from openlinq.api.deps import ServicesDep

router = APIRouter(tags=["system"])


class HealthOut(BaseModel):
    status: str
    version: str
    database: str


@router.get("/health", response_model=HealthOut)
async def health(services: ServicesDep) -> HealthOut:
    await services.db.ping()
    backend = "sqlite" if services.db.is_sqlite else "postgresql"
    return HealthOut(status="ok", version=__version__, database=backend)


@router.get("/vcards/{line_id}.vcf", response_class=Response)
async def vcard(
    line_id: str,
    services: ServicesDep,
    expires: int,
    sig: Annotated[str, Query(max_length=128)],
    backups: Annotated[str | None, Query(max_length=4000)] = None,
) -> Response:
    body = await services.lines.vcard(line_id, expires, sig, backups)
    return Response(body, media_type="text/vcard")
