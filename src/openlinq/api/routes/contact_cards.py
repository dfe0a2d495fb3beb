"""/v3/contact_card: your lines' Name and Photo Sharing cards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from openlinq.api.deps import AccountDep, ServicesDep, phone_query
from openlinq.api.schemas.features import (
    ContactCardIn,
    ContactCardListOut,
    ContactCardOut,
    ContactCardPatchIn,
)
from openlinq.api.views import contact_card_out

router = APIRouter(tags=["contact cards"])

PhoneNumber = Annotated[str, Query(max_length=32)]


@router.post("/contact_card", response_model=ContactCardOut)
async def create_contact_card(
    body: ContactCardIn, account: AccountDep, services: ServicesDep
) -> ContactCardOut:
    card = await services.contact_cards.create(
        account, body.phone_number, body.first_name, body.last_name, body.image_url
    )
    return contact_card_out(card)


@router.get("/contact_card", response_model=ContactCardListOut)
async def list_contact_cards(
    account: AccountDep,
    services: ServicesDep,
    phone_number: Annotated[str | None, Query(max_length=32)] = None,
) -> ContactCardListOut:
    cards = await services.contact_cards.of_account(account, phone_query(phone_number))
    return ContactCardListOut(contact_cards=[contact_card_out(c) for c in cards])


@router.patch("/contact_card", response_model=ContactCardOut)
async def update_contact_card(
    phone_number: PhoneNumber,
    body: ContactCardPatchIn,
    account: AccountDep,
    services: ServicesDep,
) -> ContactCardOut:
    given = body.model_dump(include=body.model_fields_set)
    card = await services.contact_cards.update(account, phone_query(phone_number) or "", **given)
    return contact_card_out(card)
