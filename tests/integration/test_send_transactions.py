"""How many transactions a send takes: capabilities kept in the database (the simulator's
devices) are read in the send's own write transaction, not in one of their own before it;
a carrier that answers from elsewhere is still asked outside any transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from openlinq.domain.models import Account, DeliveryStatus, Line, Service
from openlinq.domain.parts import build_content
from openlinq.store.repos import Repos
from openlinq.wiring import Services
from tests.support.relay_carrier import KIND, RelayCarrier
from tests.support.tenant import fresh_line_number

pytestmark = pytest.mark.anyio

RELAY = {"url": "http://127.0.0.1:9/relay", "password": "hunter2-secret", "services": "SMS"}


def _counted(
    opened: Counter[str], kind: str, begin: Callable[[], AbstractAsyncContextManager[Repos]]
) -> Callable[[], AbstractAsyncContextManager[Repos]]:
    @asynccontextmanager
    async def counting() -> AsyncIterator[Repos]:
        opened[kind] += 1
        async with begin() as repos:
            yield repos

    return counting


@pytest.fixture
def opened(services: Services, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The transactions opened from now on, by kind (the database is the real one)."""
    counts: Counter[str] = Counter()
    storage = services.storage
    monkeypatch.setattr(storage, "read", _counted(counts, "read", storage.read))
    monkeypatch.setattr(storage, "write", _counted(counts, "write", storage.write))
    return counts


async def _account(services: Services) -> tuple[Account, list[Line]]:
    account, _ = await services.accounts.create_account("sends")
    lines = [await services.accounts.add_line(account.id, fresh_line_number()) for _ in range(2)]
    return account, lines


async def test_a_send_to_a_simulated_chat_is_one_write_transaction(
    services: Services, opened: Counter[str]
) -> None:
    account, (line, _) = await _account(services)
    content = build_content({"parts": [{"type": "text", "value": "hello"}]})
    chat = (
        await services.messaging.create_chat(
            account, line.phone_number, ["+14155550100"], content, "a"
        )
    ).chat
    await services.messaging.send_to_chat(account, chat.id, content, "b")  # now known here
    opened.clear()
    sent = await services.messaging.send_to_chat(account, chat.id, content, "c")
    assert dict(opened) == {"write": 1}
    assert sent.message.service is Service.IMESSAGE


async def test_a_device_changed_just_before_a_send_is_what_the_send_sees(
    services: Services,
) -> None:
    account, (line, _) = await _account(services)
    content = build_content({"parts": [{"type": "text", "value": "hello"}]})
    handle = "+14155550103"
    first = await services.messaging.create_chat(account, line.phone_number, [handle], content, "a")
    assert first.message.service is Service.IMESSAGE
    await services.simulator.configure(account, handle, {"preset": "sms_only"})
    again = await services.messaging.send_to_chat(account, first.chat.id, content, "b")
    assert again.message.service is Service.SMS


async def test_a_carrier_answering_from_elsewhere_is_asked_before_the_transaction(
    services: Services, opened: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(services.carriers.kinds, "relay", KIND)
    RelayCarrier.log.clear()
    account, lines = await _account(services)
    for line in lines:  # no simulated line left: the relay alone answers
        await services.carriers.configure(account.id, line.phone_number, "relay", RELAY)
    content = build_content({"parts": [{"type": "text", "value": "hello"}]})
    chat = (
        await services.messaging.create_chat(
            account, lines[0].phone_number, ["+14155550104"], content, "a"
        )
    ).chat
    opened.clear()
    sent = await services.messaging.send_to_chat(account, chat.id, content, "b")
    assert sent.message.service is Service.SMS
    await services.simulator.run_due()
    stored, *_ = await services.messages.get(account, sent.message.id)
    assert stored.delivery_status is DeliveryStatus.SENT
    assert ("send", sent.message.id) in [(w, d) for _, w, d in RelayCarrier.log]
