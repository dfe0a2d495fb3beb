"""/v3/experiences: the catalogue of app cards a message can invoke."""

from __future__ import annotations

from fastapi import APIRouter

from openlinq.api.deps import AccountDep
from openlinq.api.schemas.payment_requests import (
    ExperienceActionOut,
    ExperienceFieldOut,
    ExperienceListOut,
    ExperienceOut,
)
from openlinq.domain.experiences import CATALOGUE, Experience, find

router = APIRouter(tags=["experiences"])


def _out(experience: Experience) -> ExperienceOut:
    return ExperienceOut(
        experience=experience.name,
        display_name=experience.display_name,
        actions=[
            ExperienceActionOut(
                name=action.name,
                summary=action.summary,
                fields={
                    name: ExperienceFieldOut(type=spec.type, required=spec.required, max=spec.max)
                    for name, spec in action.fields.items()
                },
            )
            for action in experience.actions
        ],
    )


@router.get("/experiences", response_model=ExperienceListOut)
async def list_experiences(account: AccountDep) -> ExperienceListOut:
    return ExperienceListOut(experiences=[_out(e) for e in CATALOGUE])


@router.get("/experiences/{experience}", response_model=ExperienceOut)
async def get_experience(experience: str, account: AccountDep) -> ExperienceOut:
    return _out(find(experience))
