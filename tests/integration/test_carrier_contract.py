"""The contract every Carrier meets: each carrier in CARRIER_PEERS must pass.

Each runs against its test peer (tests/support/carrier_peers.py) behind the per-line
seam: a line is configured with the carrier and the test drives ``services.carrier``.
A carrier reports what happens through the domain's entry points, so the assertions
read the stored messages and events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from openlinq.delivery.carrier import (
    ACTION_KINDS,
    Carrier,
    CarrierRejectedError,
    ChatAction,
    OutboundMessage,
)
from openlinq.domain.ids import MessageId
from openlinq.domain.models import Account, DeliveryStatus, Line, Service
from openlinq.domain.parts import build_content
from openlinq.wiring import Services
from tests.support.carrier_peers import CARRIER_PEERS, CarrierPeer
from tests.support.tenant import fresh_line_number, magic

pytestmark = pytest.mark.anyio


@pytest.fixture(params=sorted(CARRIER_PEERS))
async def peer(request: pytest.FixtureRequest, services: Services) -> AsyncIterator[CarrierPeer]:
    async with CARRIER_PEERS[request.param](services) as running:
        yield running


@pytest.fixture
def carrier(services: Services, peer: CarrierPeer) -> Carrier:
    """What the server sends through: it routes to the line's carrier."""
    return services.carrier


async def _line(services: Services, peer: CarrierPeer, name: str) -> tuple[Account, Line]:
    account, _ = await services.accounts.create_account(name)
    line = await services.accounts.add_line(account.id, fresh_line_number())
    if peer.settings is not None:
        await services.carriers.configure(account.id, line.phone_number, peer.name, peer.settings)
    return account, line


async def _queued(
    services: Services, peer: CarrierPeer, to: str
) -> tuple[Account, OutboundMessage]:
    account, line = await _line(services, peer, "carrier-contract")
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


async def test_capabilities_are_services(
    carrier: Carrier, services: Services, peer: CarrierPeer
) -> None:
    account, _ = await _line(services, peer, "caps")
    for handle in ("+14155551212", magic("01")):
        capabilities = await carrier.capabilities(account.id, handle)
        assert capabilities
        assert all(isinstance(s, Service) for s in capabilities)
    # An email address is a handle too: whatever the answer, it is a set of services.
    assert all(
        isinstance(s, Service) for s in await carrier.capabilities(account.id, "a@example.com")
    )


async def test_a_send_is_reported_sent_once_even_when_repeated(
    carrier: Carrier, services: Services, peer: CarrierPeer
) -> None:
    account, outbound = await _queued(services, peer, "+14155551313")
    await carrier.send(outbound)
    await carrier.send(outbound)  # a job retried after a crash calls send again
    assert await _status(services, account, outbound.message_id) is DeliveryStatus.SENT
    events = await services.simulator.recent_events(account, 100)
    assert [e.type for e in events].count("message.sent") == 1


async def test_an_unreachable_recipient_is_rejected(
    carrier: Carrier, services: Services, peer: CarrierPeer
) -> None:
    account, outbound = await _queued(services, peer, peer.unreachable)
    with pytest.raises(CarrierRejectedError) as rejected:
        await carrier.send(outbound)
    assert rejected.value.code.code == 4002
    assert await _status(services, account, outbound.message_id) is DeliveryStatus.QUEUED


@pytest.mark.parametrize("kind", sorted(ACTION_KINDS))
async def test_every_action_kind_is_carried_out_or_refused(
    carrier: Carrier, services: Services, peer: CarrierPeer, kind: str
) -> None:
    account, outbound = await _queued(services, peer, "+14155551414")
    action = ChatAction(
        kind=kind,
        account_id=account.id,
        chat_id=outbound.chat_id,
        from_number=outbound.from_number,
        recipients=outbound.recipients,
        service=peer.service,
        # What any kind may read (background None: back to the default background).
        data={
            "message_id": outbound.message_id,
            "first_name": "A",
            "handle": "+14155551415",
            "background": None,
        },
    )
    if kind in peer.actions:
        await carrier.perform(action)
    else:
        # Refused in the one way the action job understands (logged, then dropped).
        with pytest.raises(CarrierRejectedError):
            await carrier.perform(action)
