"""The BlueBubbles carrier against a BlueBubbles-compatible server (tests/support/bluebubbles_peer).

The carrier is built directly (one per line, as the carrier registry builds it); the Mac's
webhooks come back over real HTTP to the carrier's inbound router, served in this event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
import uvicorn
from fastapi import FastAPI

from openlinq.api.errors import install_error_handlers
from openlinq.delivery.bluebubbles.carrier import EFFECT_IDS, WEBHOOK_EVENTS, BlueBubblesCarrier
from openlinq.delivery.bluebubbles.client import BlueBubblesRefusedError
from openlinq.delivery.bluebubbles.inbound import router
from openlinq.delivery.bluebubbles.settings import BlueBubblesSettings
from openlinq.delivery.carrier import Carrier, CarrierRejectedError, ChatAction, OutboundMessage
from openlinq.domain.clock import ManualClock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.models import Account, DeliveryStatus, Effect, Line, Service
from openlinq.domain.parts import build_content
from openlinq.wiring import Services
from tests.support.bluebubbles_peer import BlueBubblesPeer, running_peer
from tests.support.plans import plan, recorded, scans
from tests.support.server import free_port
from tests.support.tenant import fresh_line_number

pytestmark = pytest.mark.anyio

TOKEN = "line-token-for-tests"
THEM = "+14155551313"


@pytest.fixture
def peer() -> Iterator[BlueBubblesPeer]:
    with running_peer() as running:
        yield running


@dataclass
class BbLine:
    account: Account
    line: Line
    carrier: BlueBubblesCarrier


class _Registry:
    """Stands in for the carrier registry's inbound lookup (x15-routing) until it lands."""

    def __init__(self, carrier: BlueBubblesCarrier) -> None:
        self.carrier = carrier

    async def inbound(self, name: str, token: str) -> Carrier:
        if name != "bluebubbles" or token != TOKEN:
            raise LinqError(ErrorCode.UNAUTHORIZED, "unknown carrier token")
        return self.carrier


@pytest.fixture
async def bb(services: Services, peer: BlueBubblesPeer) -> AsyncIterator[BbLine]:
    account, _ = await services.accounts.create_account("bluebubbles")
    line = await services.accounts.add_line(account.id, fresh_line_number())
    port = free_port()
    carrier = BlueBubblesCarrier(
        BlueBubblesSettings.from_dict(peer.settings()),
        account_id=account.id,
        line_id=line.id,
        phone_number=line.phone_number,
        inbound_url=f"http://127.0.0.1:{port}/carriers/bluebubbles/{TOKEN}",
        storage=services.storage,
        clock=services.clock,
        queue=None,
        recorder=services.messaging.recorder,
        policy=None,
        attachments=services.attachments,
    )
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router, prefix="/carriers/bluebubbles/{line_token}")
    app.state.services = type("S", (), {"carriers": _Registry(carrier)})()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    await carrier.start()
    yield BbLine(account, line, carrier)
    server.should_exit = True
    await serving
    await carrier.close()


async def _queued(
    services: Services, bb: BbLine, to: str = THEM, message: dict[str, Any] | None = None
) -> OutboundMessage:
    content = build_content(message or {"parts": [{"type": "text", "value": "hello mac"}]})
    sent = await services.messaging.create_chat(
        bb.account, bb.line.phone_number, [to], content, "fp"
    )
    return OutboundMessage(
        message_id=sent.message.id,
        account_id=bb.account.id,
        chat_id=sent.chat.id,
        from_number=bb.line.phone_number,
        recipients=(to,),
        is_group=False,
        service=Service.IMESSAGE,
        parts=sent.message.parts,
        effect=None,
        reply_to_id=None,
    )


async def _status(services: Services, bb: BbLine, outbound: OutboundMessage) -> DeliveryStatus:
    message, *_ = await services.messages.get(bb.account, outbound.message_id)
    return message.delivery_status


async def _event_types(services: Services, bb: BbLine) -> list[str]:
    return [e.type for e in await services.simulator.recent_events(bb.account, 200)]


async def _emit(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The peer posts its webhook from a thread: this loop serves the inbound router."""
    return await anyio.to_thread.run_sync(lambda: call(*args, **kwargs))


async def test_start_registers_the_webhook_once(bb: BbLine, peer: BlueBubblesPeer) -> None:
    await bb.carrier.start()
    assert [h["url"] for h in peer.state.webhooks] == [bb.carrier.webhook_url]
    assert "new-message" in peer.state.webhooks[0]["events"]


async def test_a_webhook_an_older_openlinq_registered_is_replaced_with_every_event(
    bb: BbLine, peer: BlueBubblesPeer
) -> None:
    peer.state.webhooks[:] = [{"id": 7, "url": bb.carrier.webhook_url, "events": ["new-message"]}]
    await bb.carrier.start()
    [hook] = peer.state.webhooks
    assert hook["id"] != 7
    assert set(WEBHOOK_EVENTS) <= set(hook["events"])
    assert {"group-name-change", "participant-left", "chat-read-status-changed"} <= set(
        hook["events"]
    )
    await bb.carrier.start()  # complete now: kept
    assert peer.state.webhooks == [hook]


async def test_capabilities_follow_the_handle_availability_api(
    bb: BbLine, peer: BlueBubblesPeer
) -> None:
    peer.state.unreachable.add("+14155550000")
    assert await bb.carrier.capabilities(bb.account.id, THEM) == {Service.IMESSAGE}
    assert await bb.carrier.capabilities(bb.account.id, "someone@example.com") == {Service.IMESSAGE}
    assert await bb.carrier.capabilities(bb.account.id, "+14155550000") == frozenset()


async def test_without_the_private_api_imessage_is_assumed(
    bb: BbLine, peer: BlueBubblesPeer
) -> None:
    peer.state.private_api = False
    peer.state.unreachable.add("+14155550000")
    assert await bb.carrier.capabilities(bb.account.id, "+14155550000") == {Service.IMESSAGE}


async def test_a_send_reaches_the_mac_once_even_when_repeated(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    await bb.carrier.send(outbound)
    await bb.carrier.send(outbound)  # a retried job calls send again
    [call] = peer.calls("message/text")
    assert call.body["chatGuid"] == f"iMessage;-;{THEM}"
    assert call.body["tempGuid"] == outbound.message_id
    assert call.body["message"] == "hello mac"
    assert await _status(services, bb, outbound) is DeliveryStatus.SENT
    assert (await _event_types(services, bb)).count("message.sent") == 1


async def test_an_unreachable_recipient_is_rejected_with_4002(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    peer.state.unreachable.add(THEM)
    outbound = await _queued(services, bb)
    with pytest.raises(CarrierRejectedError) as rejected:
        await bb.carrier.send(outbound)
    assert rejected.value.code.code == 4002
    assert await _status(services, bb, outbound) is DeliveryStatus.QUEUED


async def test_an_effect_goes_through_the_private_api(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    await bb.carrier.send(
        OutboundMessage(**{**_fields(outbound), "effect": Effect("slam", "bubble")})
    )
    [call] = peer.calls("message/text")
    assert call.body["effectId"] == EFFECT_IDS["slam"]
    assert call.body["method"] == "private-api"


async def test_an_effect_without_the_private_api_is_refused_2011(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    peer.state.private_api = False
    outbound = await _queued(services, bb)
    with pytest.raises(CarrierRejectedError) as rejected:
        await bb.carrier.send(
            OutboundMessage(**{**_fields(outbound), "effect": Effect("slam", "bubble")})
        )
    assert rejected.value.code.code == 2011
    assert peer.calls("message/text") == []


async def test_an_app_card_is_refused_2011_not_taken_for_a_file(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    card = {"type": "imessage_app", "app_name": "Shop", "url": "https://example.invalid/x"}
    with pytest.raises(CarrierRejectedError) as rejected:
        await bb.carrier.send(
            OutboundMessage(**{**_fields(outbound), "parts": (*outbound.parts, card)})
        )
    assert rejected.value.code.code == 2011
    assert "imessage_app" in rejected.value.reason
    assert peer.calls("message/text") == peer.calls("message/attachment") == []


async def test_an_unreachable_mac_retries_then_fails_4004(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    peer.stop()
    with pytest.raises(ConnectionError) as retried:
        await bb.carrier.send(outbound)
    assert peer.state.password not in str(retried.value)
    clock = services.clock
    assert isinstance(clock, ManualClock)
    clock.advance(bb.carrier.settings.give_up_after)
    with pytest.raises(CarrierRejectedError) as rejected:
        await bb.carrier.send(outbound)
    assert rejected.value.code.code == 4004


async def test_receipts_come_back_as_delivered_and_read(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    await bb.carrier.send(outbound)
    guid = next(iter(peer.state.messages))
    await _emit(peer.deliver, guid)
    assert await _status(services, bb, outbound) is DeliveryStatus.DELIVERED
    await _emit(peer.deliver, guid, read=True)
    await _emit(peer.deliver, guid, read=True)  # delivered twice: nothing twice
    assert await _status(services, bb, outbound) is DeliveryStatus.READ
    types = await _event_types(services, bb)
    assert types.count("message.delivered") == 1
    assert types.count("message.read") == 1


async def test_an_incoming_message_is_received_once(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    incoming = await _emit(peer.incoming, THEM, "hi from an iPhone")
    await _emit(peer.emit, "new-message", incoming)  # the Mac retries a webhook
    events = await services.simulator.recent_events(bb.account, 200)
    received = [e for e in events if e.type == "message.received"]
    assert len(received) == 1
    assert "hi from an iPhone" in str(received[0].data)


async def test_a_reply_and_a_tapback_find_the_message_they_are_about(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    await bb.carrier.send(outbound)
    guid = next(iter(peer.state.messages))
    await _emit(peer.incoming, THEM, "", tapback=("love", guid, 0))
    await _emit(peer.incoming, THEM, "replying", reply_to=guid)
    await _emit(peer.incoming, THEM, "", tapback=("-love", guid, 0))
    types = await _event_types(services, bb)
    assert types.count("reaction.added") == 1
    assert types.count("reaction.removed") == 1
    page = await services.messages.get(bb.account, outbound.message_id)
    assert page[0].id == outbound.message_id


async def test_a_tapback_and_a_read_receipt_find_their_message_by_index(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    await bb.carrier.send(outbound)
    guid = next(iter(peer.state.messages))
    with recorded(services.storage) as seen:
        await _emit(peer.incoming, THEM, "", tapback=("like", guid, 0))
        await _emit(peer.deliver, guid, read=True)
    types = await _event_types(services, bb)
    assert types.count("reaction.added") == 1
    assert await _status(services, bb, outbound) is DeliveryStatus.READ
    lookups = [s for s in seen if s[0].lstrip().upper().startswith("SELECT")]
    assert any("carrier_refs" in s[0] for s in lookups)
    assert not [s for s in lookups if "JSON_EXTRACT" in s[0].upper() or "->>" in s[0]]
    for statement in lookups:  # messages.extra is no longer searched: no scan of anything
        found = await plan(services.storage, statement)
        assert not scans(found, "carrier_refs"), (statement[0], found)
        assert not scans(found, "messages"), (statement[0], found)


async def test_typing_from_the_phone_is_reported(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    await bb.carrier.send(await _queued(services, bb))
    await _emit(peer.typing, THEM, True)
    await _emit(peer.typing, THEM, False)
    types = await _event_types(services, bb)
    assert "chat.typing_indicator.started" in types
    assert "chat.typing_indicator.stopped" in types


async def test_a_wrong_token_is_refused(bb: BbLine) -> None:
    import httpx

    url = bb.carrier.webhook_url.replace(TOKEN, "nope")
    async with httpx.AsyncClient() as client:
        answer = await client.post(url, json={"type": "new-message", "data": {}})
    assert answer.status_code == 401
    assert answer.json()["success"] is False


async def test_a_tapback_is_sent_and_a_custom_one_refused(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    await bb.carrier.send(outbound)
    action = _action(bb, outbound, "reaction_added", {"type": "laugh", "part_index": 0})
    await bb.carrier.perform(action)
    await bb.carrier.perform(ChatAction(**{**_fields(action), "kind": "reaction_removed"}))
    reactions = [c.body["reaction"] for c in peer.calls("message/react")]
    assert reactions == ["laugh", "-laugh"]
    with pytest.raises(CarrierRejectedError) as rejected:
        await bb.carrier.perform(_action(bb, outbound, "reaction_added", {"type": "custom"}))
    assert rejected.value.code.code == 2011


async def test_typing_and_read_need_the_private_api(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    await bb.carrier.send(outbound)
    await bb.carrier.perform(_action(bb, outbound, "typing_started", {}))
    await bb.carrier.perform(_action(bb, outbound, "chat_read", {}))
    assert peer.calls(f"chat/iMessage;-;{THEM}/typing")[0].method == "POST"
    assert len(peer.calls(f"chat/iMessage;-;{THEM}/read")) == 1
    peer.state.private_api = False
    bb.carrier._private_api = None  # the cached answer expires (60 s)
    with pytest.raises(CarrierRejectedError) as rejected:
        await bb.carrier.perform(_action(bb, outbound, "typing_stopped", {}))
    assert rejected.value.code.code == 2011


def _action(bb: BbLine, outbound: OutboundMessage, kind: str, extra: dict[str, Any]) -> ChatAction:
    return ChatAction(
        kind=kind,
        account_id=bb.account.id,
        chat_id=outbound.chat_id,
        from_number=outbound.from_number,
        recipients=outbound.recipients,
        service=Service.IMESSAGE,
        data={"message_id": outbound.message_id, **extra},
    )


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


async def test_a_malformed_webhook_is_answered_with_the_linq_error_body(bb: BbLine) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        not_json = await client.post(bb.carrier.webhook_url, content=b"{nope")
        untyped = await client.post(bb.carrier.webhook_url, json=["new-message"])
        unknown = await client.post(bb.carrier.webhook_url, json={"type": "hello-world"})
    for answer in (not_json, untyped):
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == ErrorCode.INVALID_PARAMETER.code
    assert unknown.status_code == 200  # an event openlinq has no use for is acknowledged


async def test_a_tapback_webhook_delivered_twice_changes_nothing(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    await bb.carrier.send(outbound)
    guid = next(iter(peer.state.messages))
    tapback = await _emit(peer.incoming, THEM, "", tapback=("like", guid, 0))
    await _emit(peer.emit, "new-message", tapback)
    removal = await _emit(peer.incoming, THEM, "", tapback=("-like", guid, 0))
    await _emit(peer.emit, "new-message", removal)
    types = await _event_types(services, bb)
    assert types.count("reaction.added") == 1
    assert types.count("reaction.removed") == 1


async def test_a_message_in_a_group_openlinq_does_not_know_is_not_made_a_direct_chat(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    message = await _emit(peer.incoming, THEM, "in someone else's group")
    message["guid"] = "GROUP-MESSAGE-1"
    message["chats"] = [{"guid": "iMessage;+;chat-unknown"}]
    await _emit(peer.emit, "new-message", message)
    types = await _event_types(services, bb)
    assert types.count("message.received") == 1  # the direct one only


async def test_a_send_error_reported_later_fails_the_message_4002(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    outbound = await _queued(services, bb)
    await bb.carrier.send(outbound)
    guid = next(iter(peer.state.messages))
    await _emit(peer.fail, guid)
    await _emit(peer.fail, guid)  # delivered twice
    assert await _status(services, bb, outbound) is DeliveryStatus.FAILED
    events = await services.simulator.recent_events(bb.account, 200)
    [event] = [e for e in events if e.type == "message.failed"]
    assert event.data["code"] == 4002


async def test_availability_is_remembered_for_a_while(
    bb: BbLine, peer: BlueBubblesPeer, services: Services
) -> None:
    for _ in range(3):
        assert await bb.carrier.capabilities(bb.account.id, THEM) == {Service.IMESSAGE}
    assert len(peer.calls("handle/availability/imessage")) == 1
    clock = services.clock
    assert isinstance(clock, ManualClock)
    clock.advance(601)
    peer.state.unreachable.add(THEM)  # signed out of iMessage since
    assert await bb.carrier.capabilities(bb.account.id, THEM) == frozenset()


async def test_a_mac_that_stopped_answering_delays_one_request_not_every_one(
    services: Services, peer: BlueBubblesPeer
) -> None:
    account, _ = await services.accounts.create_account("stalled")
    line = await services.accounts.add_line(account.id, fresh_line_number())
    carrier = BlueBubblesCarrier(
        BlueBubblesSettings.from_dict(peer.settings(timeout=0.5)),
        account_id=account.id,
        line_id=line.id,
        phone_number=line.phone_number,
        inbound_url="http://127.0.0.1:9/carriers/bluebubbles/x",
        storage=services.storage,
        clock=services.clock,
        recorder=services.messaging.recorder,
        attachments=services.attachments,
    )
    peer.state.stall = 2.0
    try:
        assert await carrier.capabilities(account.id, THEM) == {Service.IMESSAGE}  # waits 0.5 s
        with anyio.fail_after(0.3):  # the next sends' capabilities do not wait again
            for _ in range(3):
                assert await carrier.capabilities(account.id, THEM) == {Service.IMESSAGE}
    finally:
        peer.state.stall = 0.0
        await carrier.close()


async def test_the_probe_says_the_mac_refused_the_password_and_names_the_line(
    bb: BbLine, peer: BlueBubblesPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="openlinq.delivery.bluebubbles.carrier")
    password = peer.state.password
    peer.state.password = "changed-on-the-mac"
    await bb.carrier.probe()
    [flagged] = [r for r in caplog.records if "line flagged" in r.getMessage()]
    assert flagged.levelno == logging.WARNING
    said = flagged.getMessage()
    assert (
        said
        == f"line {bb.line.phone_number}: the BlueBubbles server refused the password: line flagged"
    )
    peer.state.password = password
    caplog.clear()
    await bb.carrier.probe()
    [back] = [r for r in caplog.records if "answers again" in r.getMessage()]
    assert back.levelno == logging.INFO
    assert back.getMessage() == f"line {bb.line.phone_number}: the BlueBubbles server answers again"


async def test_a_refusal_names_the_servers_message_once(bb: BbLine, peer: BlueBubblesPeer) -> None:
    peer.state.password = "changed-on-the-mac"
    with pytest.raises(BlueBubblesRefusedError) as refused:
        await bb.carrier.client.call("GET", "ping")
    said = str(refused.value)
    assert said.count("You are not authorized") == 1, said
