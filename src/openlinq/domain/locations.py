"""Location sharing: asking a contact for their location, reading it, stopping it.

Requests are for 1:1 iMessage chats (groups 2016, SMS/RCS 2017), not while the
contact already shares (409), and at most once a minute per chat. Positions are
GeoJSON ``[longitude, latitude(, altitude)]``. A share belongs to the contact
and your line, so it shows in every chat between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from openlinq.domain.actions import CarrierActions
from openlinq.domain.chats import chat_and_line, require_usable
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.handles import parse_handle
from openlinq.domain.ids import AccountId, new_id
from openlinq.domain.limits import LOCATION_REQUESTS
from openlinq.domain.models import Account, Line, Service
from openlinq.store.repos import Repos
from openlinq.store.repos.locations import LocationShare
from openlinq.store.unit import Storage


@dataclass(frozen=True, slots=True)
class Position:
    longitude: float
    latitude: float
    altitude: float | None = None
    address: str | None = None
    locality: str | None = None

    def __post_init__(self) -> None:
        if not (-180 <= self.longitude <= 180 and -90 <= self.latitude <= 90):
            raise LinqError(ErrorCode.INVALID_PARAMETER, "longitude/latitude out of range")


def feature_collection(shares: list[LocationShare]) -> dict[str, Any]:
    features = []
    for share in shares:
        coordinates = [share.longitude, share.latitude]
        if share.altitude is not None:
            coordinates.append(share.altitude)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": coordinates},
                "properties": {
                    "handle": share.handle,
                    "address": share.address,
                    "locality": share.locality,
                    "updated_at": share.updated_at,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


class LocationService:
    def __init__(
        self, storage: Storage, clock: Clock, actions: CarrierActions, feed: LocationFeed
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.actions = actions
        self.feed = feed

    async def request(self, account: Account, chat_id: str) -> None:
        now = self.clock.now()
        async with self.storage.write() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            require_usable(chat, line)
            if chat.is_group:
                raise LinqError(
                    ErrorCode.GROUP_CHAT_NOT_SUPPORTED, "location requests are 1:1 only"
                )
            if chat.service is not Service.IMESSAGE:
                raise LinqError(
                    ErrorCode.CHAT_SERVICE_NOT_SUPPORTED, "location requests need iMessage"
                )
            contact = chat.recipients[0].handle
            if await repos.locations.active(line.id, [contact], now):
                raise LinqError(
                    ErrorCode.STATE_CONFLICT,
                    f"{contact} already shares their location; read it with GET",
                )
            await LOCATION_REQUESTS.take(repos, chat.id, now)
            await self.actions.schedule(repos, chat, line, "location_requested", {})

    async def retrieve(self, account: Account, chat_id: str) -> dict[str, Any]:
        async with self.storage.read() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            shares = await repos.locations.active(
                line.id, [h.handle for h in chat.recipients], self.clock.now()
            )
        return feature_collection(shares)

    async def stop(self, account: Account, chat_id: str, raw_handle: str) -> None:
        handle = parse_handle(raw_handle, "handle").value
        async with self.storage.write() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
            shares = await repos.locations.active(line.id, [handle], self.clock.now())
            if not shares or not any(h.handle == handle for h in chat.recipients):
                raise LinqError(
                    ErrorCode.STATE_CONFLICT, f"{handle} is not sharing a location", http_status=404
                )
            for share in shares:
                await self.feed.stopped(repos, line, share)


class LocationFeed:
    """What contacts' devices report: starting, moving and stopping a share (carrier side)."""

    def __init__(self, storage: Storage, clock: Clock, events: EventLog) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events

    async def device_shares(
        self,
        account_id: AccountId,
        line_number: str,
        handle: str,
        position: Position,
        *,
        chat_id: str | None,
        duration: timedelta | None,
    ) -> None:
        """A contact starts sharing with a line, or moves while sharing."""
        now = self.clock.now()
        async with self.storage.write() as repos:
            line = await repos.lines.by_number(account_id, line_number)
            if line is None:
                raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{line_number} is not your line")
            current = await repos.locations.active(line.id, [handle], now)
            fields = {
                "longitude": position.longitude,
                "latitude": position.latitude,
                "altitude": position.altitude,
                "address": position.address,
                "locality": position.locality,
                "updated_at": now,
            }
            if current:
                await repos.locations.move(current[0].id, **fields)
                return
            share = LocationShare(
                id=new_id(),
                account_id=account_id,
                line_id=line.id,
                handle=handle,
                chat_id=chat_id,
                longitude=position.longitude,
                latitude=position.latitude,
                altitude=position.altitude,
                address=position.address,
                locality=position.locality,
                began_at=now,
                ends_at=now + duration if duration else None,
                updated_at=now,
            )
            await repos.locations.start(share)
            await self.events.record(
                repos,
                account_id,
                "location.sharing.started",
                {
                    "shared_by": handle,
                    "shared_with": line.phone_number,
                    "began_at": now,
                    "chat_id": chat_id,
                    "ends_at": share.ends_at,
                },
                phone_number=line.phone_number,
                now=now,
            )

    async def device_stops(self, account_id: AccountId, line_number: str, handle: str) -> bool:
        async with self.storage.write() as repos:
            line = await repos.lines.by_number(account_id, line_number)
            if line is None:
                return False
            shares = await repos.locations.active(line.id, [handle], self.clock.now())
            for share in shares:
                await self.stopped(repos, line, share)
        return bool(shares)

    async def stopped(self, repos: Repos, line: Line, share: LocationShare) -> None:
        now = self.clock.now()
        await repos.locations.stop(share.id, now)
        await self.events.record(
            repos,
            share.account_id,
            "location.sharing.stopped",
            {
                "shared_by": share.handle,
                "shared_with": line.phone_number,
                "ended_at": now,
                "began_at": share.began_at,
                "chat_id": share.chat_id,
            },
            phone_number=line.phone_number,
            now=now,
        )
