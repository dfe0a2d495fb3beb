"""An SMS line on the SMPP carrier, through the official SDK: a send reaches the SMSC
(tests/support/smsc_peer.py), its receipt makes the message delivered, a reply from the
phone arrives as message.received — exactly as with the simulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from openlinq.domain.models import LineType
from tests.support.server import RunningServer
from tests.support.smsc_peer import SmscPeer, peer_settings
from tests.support.tenant import Tenant, create_tenant

PHONE = "+14155551313"


def _until(check: Callable[[], bool], what: str) -> None:
    """The SMSC is a real peer on a socket: wait (bounded) for its traffic to be recorded."""
    for _ in range(500):
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"not seen within 10 s: {what}")


@pytest.fixture
def smpp_line(server: RunningServer) -> Iterator[tuple[RunningServer, Tenant, SmscPeer]]:
    # A second line left on the simulator: the account reaches iPhones on iMessage, and a
    # chat of the SMPP line must still go SMS (its own carrier is asked, not the account).
    tenant = create_tenant(server, line_types=(LineType.IMESSAGE, LineType.IMESSAGE))
    peer = SmscPeer()
    server.call(peer.start)  # on the server's loop, like the carrier's bind
    try:
        server.call(
            server.services.carriers.configure,
            tenant.account_id,
            tenant.line,
            "smpp",
            peer_settings(peer),
        )
        yield server, tenant, peer
    finally:
        server.call(peer.stop)
        tenant.client.close()
        tenant.http.close()


def test_an_sms_goes_out_through_the_smsc_and_its_receipt_makes_it_delivered(
    smpp_line: tuple[RunningServer, Tenant, SmscPeer],
) -> None:
    server, tenant, peer = smpp_line
    created = tenant.client.chats.create(
        from_=tenant.line, to=[PHONE], message={"parts": [{"type": "text", "value": "hello"}]}
    )
    message_id = created.chat.message.id
    assert created.chat.message.service == "SMS"
    tenant.sim.advance(0)  # the manual clock: run the send job now
    _until(lambda: len(peer.submitted) == 1, "the submit_sm")
    [submitted] = peer.submitted
    assert (submitted.destination_addr, submitted.short_message) == (PHONE[1:], b"hello")
    _until(
        lambda: tenant.client.messages.retrieve(message_id).delivery_status == "sent",
        "message sent",
    )
    server.call(peer.receipt, submitted)
    _until(
        lambda: tenant.client.messages.retrieve(message_id).delivery_status == "delivered",
        "message delivered",
    )
    assert tenant.client.messages.retrieve(message_id).service == "SMS"
    types = [e["event_type"] for e in tenant.sim.events() if e["event_type"].startswith("message.")]
    assert types.count("message.sent") == 1
    assert types.count("message.delivered") == 1


def test_a_reply_from_the_phone_is_received(
    smpp_line: tuple[RunningServer, Tenant, SmscPeer],
) -> None:
    server, tenant, peer = smpp_line
    tenant.client.chats.create(
        from_=tenant.line, to=[PHONE], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    tenant.sim.advance(0)
    _until(lambda: len(peer.submitted) == 1, "the submit_sm")
    server.call(peer.mobile_originated, PHONE, tenant.line, b"Sure, see you at 5")
    _until(lambda: bool(tenant.sim.events("message.received")), "message.received")
    [received] = tenant.sim.events("message.received")
    data = received["data"]
    assert data["parts"][0]["value"] == "Sure, see you at 5"
    assert data["service"] == "SMS"


def test_a_follow_up_and_a_reply_in_an_sms_chat_go_out_as_sms(
    smpp_line: tuple[RunningServer, Tenant, SmscPeer],
) -> None:
    _, tenant, peer = smpp_line
    chat = tenant.client.chats.create(
        from_=tenant.line, to=[PHONE], message={"parts": [{"type": "text", "value": "hello"}]}
    ).chat
    assert chat.message.service == "SMS"
    follow_up = tenant.client.chats.messages.send(
        chat.id, message={"parts": [{"type": "text", "value": "and again"}]}
    )
    assert follow_up.message.service == "SMS"
    tenant.sim.advance(0)
    _until(lambda: len(peer.submitted) == 2, "both submit_sm")
    # Two sends of one chat queued together are separate jobs: on PostgreSQL they may reach
    # the SMSC in either order (docs/gateways.md, "Order").
    assert sorted(s.short_message for s in peer.submitted) == [b"and again", b"hello"]
    _until(
        lambda: tenant.client.messages.retrieve(follow_up.message.id).delivery_status == "sent",
        "the follow-up sent",
    )
    assert tenant.client.chats.retrieve(chat.id).service == "SMS"
