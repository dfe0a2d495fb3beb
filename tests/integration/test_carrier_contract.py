"""The contract every Carrier meets; each new carrier is added to CARRIERS and must pass.

The simulator is the first. A carrier reports what happens through the domain's
entry points, so the assertions read the stored messages and events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from openlinq.config import Settings
from openlinq.delivery.carrier import (
    ACTION_KINDS,
    Carrier,
    CarrierRejectedError,
    ChatAction,
    OutboundMessage,
)
from openlinq.domain.clock import ManualClock
from openlinq.domain.ids import MessageId
from openlinq.domain.models import Account, DeliveryStatus, Service
from openlinq.domain.parts import build_content
from openlinq.wiring import Services, build_services, start, stop
from tests.support.tenant import fresh_line_number, magic

pytestmark = pytest.mark.anyio

CARRIERS: dict[str, Callable[[Services], Carrier]] = {"simulator": lambda s: s.carrier}


@pytest.fixture
async def services(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    built = build_services(
        Settings(database_url=fresh_database_url, data_dir=tmp_path, clock="manual"), ManualClock()
    )
    await start(built)
    yield built
    await stop(built)


@pytest.fixture(params=sorted(CARRIERS))
def carrier(request: pytest.FixtureRequest, services: Services) -> Carrier:
    return CARRIERS[request.param](services)


async def _queued(services: Services, to: str) -> tuple[Account, OutboundMessage]:
    account, _ = await services.accounts.create_account("carrier-contract")
    line = await services.accounts.add_line(account.id, fresh_line_number())
    content = build_content({"parts": [{"type": "text", "value": "contract"}]})
    sent = await services.messaging.create_chat(account, line.phone_number, [to], content, "fp")
    return account, OutboundMessage(
        message_id=sent.message.id,
        account_id=account.id,
        chat_id=sent.chat.id,
        from_number=line.phone_number,
        recipients=(to,),
        is_group=False,
        service=sent.message.service,
        parts=sent.message.parts,
        effect=None,
        reply_to_id=None,
    )


async def _status(services: Services, account: Account, message_id: MessageId) -> DeliveryStatus:
    message, *_ = await services.messages.get(account, message_id)
    return message.delivery_status


async def test_capabilities_are_services(carrier: Carrier, services: Services) -> None:
    account, _ = await services.accounts.create_account("caps")
    for handle in ("+14155551212", "someone@example.com", magic("01")):
        capabilities = await carrier.capabilities(account.id, handle)
        assert capabilities
        assert all(isinstance(s, Service) for s in capabilities)


async def test_a_send_is_reported_sent_once_even_when_repeated(
    carrier: Carrier, services: Services
) -> None:
    account, outbound = await _queued(services, "+14155551313")
    await carrier.send(outbound)
    await carrier.send(outbound)  # a job retried after a crash calls send again
    assert await _status(services, account, outbound.message_id) is DeliveryStatus.SENT
    events = await services.simulator.recent_events(account, 100)
    assert [e.type for e in events].count("message.sent") == 1


async def test_an_unreachable_recipient_is_rejected(carrier: Carrier, services: Services) -> None:
    account, outbound = await _queued(services, magic("03"))
    with pytest.raises(CarrierRejectedError) as rejected:
        await carrier.send(outbound)
    assert rejected.value.code.code == 4002
    assert await _status(services, account, outbound.message_id) is DeliveryStatus.QUEUED


@pytest.mark.parametrize("kind", sorted(ACTION_KINDS))
async def test_every_action_kind_is_accepted(
    carrier: Carrier, services: Services, kind: str
) -> None:
    account, outbound = await _queued(services, "+14155551414")
    await carrier.perform(
        ChatAction(
            kind=kind,
            account_id=account.id,
            chat_id=outbound.chat_id,
            from_number=outbound.from_number,
            recipients=outbound.recipients,
            service=Service.IMESSAGE,
            # What each kind carries (a background of None: one removed).
            data={
                "message_id": outbound.message_id,
                "first_name": "A",
                "handle": "+14155551415",
                "background": None,
            },
        )
    )
