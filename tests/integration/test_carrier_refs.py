"""carrier_refs: a carrier's ids for our messages and chats, found by index on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from openlinq.domain.ids import ChatId, LineId, MessageId
from openlinq.domain.models import Account
from openlinq.domain.parts import build_content
from openlinq.store.tables import messages
from openlinq.wiring import Services
from tests.support.plans import plan, recorded, scans
from tests.support.tenant import fresh_line_number

pytestmark = pytest.mark.anyio


async def _message(services: Services) -> tuple[Account, LineId, ChatId, MessageId]:
    account, _ = await services.accounts.create_account("refs")
    line = await services.accounts.add_line(account.id, fresh_line_number())
    content = build_content({"parts": [{"type": "text", "value": "hello"}]})
    sent = await services.messaging.create_chat(
        account, line.phone_number, ["+14155551313"], content, "fp"
    )
    return account, line.id, sent.chat.id, sent.message.id


async def test_refs_are_per_line_and_the_first_mapping_stays(services: Services) -> None:
    _, line_id, chat_id, message_id = await _message(services)
    _, other_line, other_chat, other_message = await _message(services)
    now = services.clock.now()
    async with services.storage.write() as repos:
        refs = repos.carrier_refs
        await refs.put_message(line_id, "GUID-1", message_id, now)
        await refs.put_message(line_id, "GUID-1", other_message, now)  # a webhook twice
        await refs.put_message(other_line, "GUID-1", other_message, now)  # another Mac
        await refs.put_chat(line_id, "iMessage;-;+14155551313", chat_id, now)
        await refs.put_chat(line_id, "iMessage;-;+14155551313", other_chat, now)
    async with services.storage.read() as repos:
        refs = repos.carrier_refs
        assert await refs.message_for(line_id, "GUID-1") == message_id
        assert await refs.message_for(other_line, "GUID-1") == other_message
        assert await refs.message_for(line_id, "GUID-2") is None
        assert await refs.ref_of_message(message_id) == "GUID-1"
        assert await refs.chat_for(line_id, "iMessage;-;+14155551313") == chat_id
        assert await refs.chat_for(other_line, "iMessage;-;+14155551313") is None
        assert await refs.ref_of_chat(chat_id) == "iMessage;-;+14155551313"
        assert await refs.ref_of_chat(other_chat) is None


async def test_the_parts_of_a_message_are_delivered_one_by_one(services: Services) -> None:
    _, line_id, _, message_id = await _message(services)
    now = services.clock.now()
    async with services.storage.write() as repos:
        for part, smsc_id in enumerate(("A1", "A2")):
            await repos.carrier_refs.put_message(
                line_id, smsc_id, message_id, now, part=part, parts=2
            )
    async with services.storage.write() as repos:
        refs = repos.carrier_refs
        assert await refs.parts_of(message_id) == {0: "A1", 1: "A2"}
        found = await refs.find_message(line_id, ["161", "a2", "A2"])
        assert found is not None
        assert (found.part, found.parts) == (1, 2)
        assert await refs.mark_delivered(line_id, "A2")
        assert not await refs.mark_delivered(line_id, "A2")  # the same receipt twice
        assert await refs.delivered_parts(message_id) == 1
        assert await refs.forget_message(message_id) == 2
        assert await refs.parts_of(message_id) == {}


async def test_a_purged_message_takes_its_refs_along(services: Services) -> None:
    _, line_id, chat_id, message_id = await _message(services)
    now = services.clock.now()
    async with services.storage.write() as repos:
        await repos.carrier_refs.put_message(line_id, "GUID-P", message_id, now)
        await repos.carrier_refs.put_chat(line_id, "iMessage;-;+14155551313", chat_id, now)
        await repos.conn.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(expires_at=now - timedelta(seconds=1))
        )
    async with services.storage.write() as repos:
        purged, _ = await repos.messages.purge_expired(now, 100)
    assert purged == 1
    async with services.storage.read() as repos:
        assert await repos.carrier_refs.message_for(line_id, "GUID-P") is None
        # The chat is still there, and so is what the carrier calls it.
        assert await repos.carrier_refs.chat_for(line_id, "iMessage;-;+14155551313") == chat_id


async def test_every_lookup_uses_an_index(services: Services) -> None:
    _, line_id, chat_id, message_id = await _message(services)
    now = services.clock.now()
    async with services.storage.write() as repos:
        await repos.carrier_refs.put_message(line_id, "S1", message_id, now, part=0, parts=1)
        await repos.carrier_refs.put_chat(line_id, "chat-guid", chat_id, now)
    with recorded(services.storage) as seen:
        async with services.storage.write() as repos:
            refs = repos.carrier_refs
            await refs.message_for(line_id, "S1")
            await refs.find_message(line_id, ["S1", "83", "s1"])
            await refs.chat_for(line_id, "chat-guid")
            await refs.ref_of_message(message_id)
            await refs.ref_of_chat(chat_id)
            await refs.parts_of(message_id)
            await refs.mark_delivered(line_id, "S1")
            await refs.delivered_parts(message_id)
            await refs.forget_message(message_id)
    lookups = [
        s
        for s in seen
        if "carrier_refs" in s[0]
        and s[0].lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
    ]
    assert len(lookups) == 9
    for statement in lookups:
        found = await plan(services.storage, statement)
        assert not scans(found, "carrier_refs"), (statement[0], found)
