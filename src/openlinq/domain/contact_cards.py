"""Your lines' contact cards (Name and Photo Sharing) and sharing them into chats.

A card is created once per line (2014 when one exists), then changed with
PATCH; creates and changes share a budget of 3 per 10 minutes per line. A card
can be shared into an iMessage chat once every 5 minutes (2012 without a card).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from openlinq.domain.actions import CarrierActions
from openlinq.domain.chats import chat_and_line, check_account_line, require_usable
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.handles import parse_handle, parse_phone
from openlinq.domain.limits import CONTACT_CARD_SHARES, CONTACT_CARD_WRITES
from openlinq.domain.models import Account, Line, Service
from openlinq.domain.parts import check_url
from openlinq.domain.views import ACTORS, Origin
from openlinq.store.repos import Repos
from openlinq.store.repos.cards import ContactCard
from openlinq.store.unit import Storage

_UNSET: Any = object()


def _image(url: str | None) -> str | None:
    return check_url(url, "image_url") if url else None


def _account_event(card: ContactCard, summary: str, now: datetime) -> dict[str, Any]:
    return {
        "summary": summary,
        "occurred_at": now,
        "actor": {"type": "api"},
        "origin": "api",
        "phone_number": card.phone_number,
        "contact_card": {
            "id": card.line_id,
            "first_name": card.first_name,
            "last_name": card.last_name,
            "image_url": card.image_url,
        },
    }


class ContactCardService:
    def __init__(
        self, storage: Storage, clock: Clock, events: EventLog, actions: CarrierActions
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        self.actions = actions

    async def _line(self, repos: Repos, account: Account, phone_number: str) -> Line:
        number = parse_phone(phone_number, "phone_number")
        return check_account_line(await repos.lines.by_number(account.id, number), number)

    async def create(
        self,
        account: Account,
        phone_number: str,
        first_name: str,
        last_name: str | None,
        image_url: str | None,
    ) -> ContactCard:
        now = self.clock.now()
        async with self.storage.write() as repos:
            line = await self._line(repos, account, phone_number)
            existing = await repos.contact_cards.for_line(line.id)
            if existing is not None and existing.is_active:
                raise LinqError(
                    ErrorCode.CONTACT_CARD_EXISTS, "this line has a contact card; use PATCH"
                )
            await CONTACT_CARD_WRITES.take(repos, line.id, now)
            card = ContactCard(
                line.id,
                account.id,
                line.phone_number,
                first_name,
                last_name or None,
                _image(image_url),
                True,
                now,
                now,
            )
            await repos.contact_cards.save(card)
            await self.events.record(
                repos,
                account.id,
                "contact_card.created",
                _account_event(card, "Contact card created", now),
                phone_number=line.phone_number,
                now=now,
            )
        return card

    async def update(
        self,
        account: Account,
        phone_number: str,
        *,
        first_name: str | None = _UNSET,
        last_name: str | None = _UNSET,
        image_url: str | None = _UNSET,
    ) -> ContactCard:
        now = self.clock.now()
        async with self.storage.write() as repos:
            line = await self._line(repos, account, phone_number)
            card = await repos.contact_cards.for_line(line.id)
            if card is None:
                raise LinqError(ErrorCode.CONTACT_CARD_NOT_FOUND)
            await CONTACT_CARD_WRITES.take(repos, line.id, now)
            changed = card
            if first_name is not _UNSET and first_name is not None:
                changed = replace(changed, first_name=first_name)
            if last_name is not _UNSET:
                changed = replace(changed, last_name=last_name or None)
            if image_url is not _UNSET:
                changed = replace(changed, image_url=_image(image_url))
            changed = replace(changed, is_active=True, updated_at=now)
            await repos.contact_cards.save(changed)
            data = _account_event(changed, "Contact card updated", now)
            data["change"] = {
                field: {"from": getattr(card, field), "to": getattr(changed, field)}
                for field in ("first_name", "last_name", "image_url")
                if getattr(card, field) != getattr(changed, field)
            }
            await self.events.record(
                repos,
                account.id,
                "contact_card.updated",
                data,
                phone_number=line.phone_number,
                now=now,
            )
        return changed

    async def delete(self, account: Account, phone_number: str, origin: Origin) -> ContactCard:
        """Remove a line's card (the SDK has no endpoint: the console and the simulator do
        it); emits contact_card.deleted. No card is 404 / 2012."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            line = await self._line(repos, account, phone_number)
            card = await repos.contact_cards.for_line(line.id)
            if card is None:
                raise LinqError(ErrorCode.CONTACT_CARD_NOT_FOUND)
            await repos.contact_cards.delete(line.id)
            data = _account_event(card, "Contact card deleted", now)
            data.update(actor={"type": ACTORS[origin]}, origin=origin)
            await self.events.record(
                repos,
                account.id,
                "contact_card.deleted",
                data,
                phone_number=line.phone_number,
                now=now,
            )
        return card

    async def received(
        self,
        account: Account,
        line_number: str,
        sender: str,
        first_name: str,
        last_name: str | None,
        media_url: str | None,
    ) -> None:
        """Someone shared their own contact card with a line: contact_card.received.

        A card belongs to the line, not to a chat, so no chat is needed; nothing is
        stored, and every share (a changed name or photo included) is one event.
        """
        now = self.clock.now()
        async with self.storage.write() as repos:
            line = await self._line(repos, account, line_number)
            data: dict[str, Any] = {
                "first_name": first_name,
                "last_name": last_name or "",
                "owner_handle": line.phone_number,
                "sender_handle": parse_handle(sender, "handle").value,
                "media_url": check_url(media_url, "media_url") if media_url else None,
            }
            await self.events.record(
                repos,
                account.id,
                "contact_card.received",
                data,
                phone_number=line.phone_number,
                now=now,
            )

    async def of_account(self, account: Account, phone_number: str | None) -> list[ContactCard]:
        async with self.storage.read() as repos:
            cards = await repos.contact_cards.of_account(account.id)
        if phone_number is not None:
            number = parse_phone(phone_number, "phone_number")
            cards = [c for c in cards if c.phone_number == number]
        return [c for c in cards if c.is_active]

    async def share(self, account: Account, chat_id: str) -> None:
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            require_usable(chat, line)
            if chat.service is not Service.IMESSAGE:
                raise LinqError(
                    ErrorCode.CHAT_SERVICE_NOT_SUPPORTED, "contact cards are shared over iMessage"
                )
            card = await repos.contact_cards.for_line(line.id)
            if card is None or not card.is_active:
                raise LinqError(ErrorCode.CONTACT_CARD_NOT_FOUND)
            await CONTACT_CARD_SHARES.take(repos, chat.id, now)
            await self.actions.schedule(
                repos,
                chat,
                line,
                "contact_card_shared",
                {
                    "first_name": card.first_name,
                    "last_name": card.last_name,
                    "image_url": card.image_url,
                    "phone_number": line.phone_number,
                },
            )
