"""/console/clock: simulated time (advance it, run what is due) and the job queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from openlinq.api.schemas.simulator import ClockAdvanceIn
from openlinq.console.access import ConsoleDep
from openlinq.console.render import render

router = APIRouter()

# The queue can hold millions of rows; the page shows the next ones due.
SHOWN_JOBS = 50


def _seconds(value: float) -> str:
    return f"{value:g} s" if value < 60 else f"{value / 60:g} min"


@router.get("/clock", response_class=HTMLResponse)
async def clock_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    total, jobs = await console.services.runner.pending(SHOWN_JOBS)
    return render(request, console, "clock.html", total=total, jobs=jobs)


@router.get("/clock/jobs", response_class=HTMLResponse)
async def jobs_fragment(request: Request, console: ConsoleDep) -> HTMLResponse:
    total, jobs = await console.services.runner.pending(SHOWN_JOBS)
    return render(request, console, "_jobs.html", total=total, jobs=jobs)


@router.get("/clock/badge", response_class=HTMLResponse)
async def clock_badge(request: Request, console: ConsoleDep) -> HTMLResponse:
    return render(request, console, "_clock_badge.html")


@router.post("/clock/advance")
async def advance(body: ClockAdvanceIn, console: ConsoleDep) -> dict[str, Any]:
    ran = await console.services.simulator.advance_clock(body.seconds)
    return {"message": f"Advanced {_seconds(body.seconds)}; {ran} jobs ran", "jobs_run": ran}


@router.post("/clock/run")
async def run_due(console: ConsoleDep) -> dict[str, Any]:
    ran = await console.services.simulator.run_due()
    return {"message": f"{ran} due jobs ran", "jobs_run": ran}
