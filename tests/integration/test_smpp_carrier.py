"""The SMPP carrier against a real SMPP server on loopback (tests/support/smsc_peer.py):
the carrier contract's scenarios plus what SMS over SMPP adds (receipts, MO,
concatenation, throttling, a bind dropped mid-send)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from openlinq.config import Settings
from openlinq.delivery.carrier import CarrierRejectedError, ChatAction, OutboundMessage
from openlinq.delivery.smpp.carrier import SmppCarrier
from openlinq.delivery.smpp.encoding import UCS2, UDHI, segments
from openlinq.delivery.smpp.session import SmppUnavailableError
from openlinq.delivery.smpp.settings import SmppSettings
from openlinq.domain.clock import ManualClock
from openlinq.domain.ids import MessageId
from openlinq.domain.models import Account, DeliveryStatus, Service
from openlinq.domain.parts import build_content
from openlinq.wiring import Services, build_services, start, stop
from tests.support.smsc_peer import SmscPeer, Submitted, peer_settings
from tests.support.tenant import fresh_line_number

pytestmark = pytest.mark.anyio

RECIPIENT = "+14155551313"


@pytest.fixture
async def services(migrated_database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    built = build_services(
        Settings(database_url=migrated_database_url, data_dir=tmp_path, clock="manual"),
        ManualClock(),
    )
    await start(built)
    yield built
    await stop(built)


@pytest.fixture
async def peer() -> AsyncIterator[SmscPeer]:
    smsc = SmscPeer()
    await smsc.start()
    yield smsc
    await smsc.stop()


@pytest.fixture
async def line(services: Services) -> tuple[Account, str]:
    account, _ = await services.accounts.create_account("smpp")
    added = await services.accounts.add_line(account.id, fresh_line_number())
    return account, added.phone_number


async def _smpp(
    services: Services, line: tuple[Account, str], settings: dict[str, Any]
) -> SmppCarrier:
    """An SMPP carrier for ``line``, built as the registry builds one (not started)."""
    account, number = line
    async with services.storage.read() as repos:
        found = await repos.lines.by_number(account.id, number)
    assert found is not None
    return SmppCarrier(
        SmppSettings.from_dict(settings),
        account_id=account.id,
        line_id=found.id,
        phone_number=number,
        storage=services.storage,
        clock=services.clock,
        recorder=services.simulator.recorder,
    )


@pytest.fixture
async def carrier(
    services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> AsyncIterator[SmppCarrier]:
    built = await _smpp(services, line, peer_settings(peer))
    await built.start()
    await peer.wait_bound()
    yield built
    await built.close()


async def _queued(
    services: Services, line: tuple[Account, str], text: str = "contract", to: str = RECIPIENT
) -> OutboundMessage:
    account, number = line
    content = build_content({"parts": [{"type": "text", "value": text}]})
    sent = await services.messaging.create_chat(account, number, [to], content, "fp")
    return OutboundMessage(
        message_id=sent.message.id,
        account_id=account.id,
        chat_id=sent.chat.id,
        from_number=number,
        recipients=(to,),
        is_group=False,
        service=Service.SMS,
        parts=sent.message.parts,
        effect=None,
        reply_to_id=None,
    )


async def _status(services: Services, account: Account, message_id: MessageId) -> DeliveryStatus:
    message, *_ = await services.messages.get(account, message_id)
    return message.delivery_status


async def _types(services: Services, account: Account) -> list[str]:
    return [e.type for e in await services.simulator.recent_events(account, 100)]


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """deliver_sm is acknowledged before the carrier records it: wait for the record."""
    for _ in range(250):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not recorded within 5 s")


async def test_capabilities_are_sms_for_numbers_only(carrier: SmppCarrier) -> None:
    account = carrier.account_id
    assert await carrier.capabilities(account, "+14155551212") == {Service.SMS}
    assert await carrier.capabilities(account, "someone@example.com") == frozenset()


async def test_a_send_is_submitted_and_reported_sent_once_even_when_repeated(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    outbound = await _queued(services, line)
    await carrier.send(outbound)
    await carrier.send(outbound)  # a job retried after a crash calls send again
    assert await _status(services, line[0], outbound.message_id) is DeliveryStatus.SENT
    assert (await _types(services, line[0])).count("message.sent") == 1
    [submitted] = peer.submitted
    assert submitted.destination_addr == RECIPIENT.lstrip("+")
    assert submitted.source_addr == line[1].lstrip("+")
    assert submitted.short_message == b"contract"
    assert submitted.registered_delivery == 1


async def test_a_refused_destination_is_rejected_4002(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    peer.refuse[RECIPIENT.lstrip("+")] = 0x0B  # ESME_RINVDSTADR
    outbound = await _queued(services, line)
    with pytest.raises(CarrierRejectedError) as rejected:
        await carrier.send(outbound)
    assert rejected.value.code.code == 4002
    assert await _status(services, line[0], outbound.message_id) is DeliveryStatus.QUEUED


async def test_actions_sms_cannot_carry_are_refused_4005(
    carrier: SmppCarrier, services: Services, line: tuple[Account, str]
) -> None:
    outbound = await _queued(services, line)
    with pytest.raises(CarrierRejectedError) as rejected:
        await carrier.perform(
            ChatAction(
                "typing_started",
                line[0].id,
                outbound.chat_id,
                line[1],
                (RECIPIENT,),
                Service.SMS,
                {},
            )
        )
    assert rejected.value.code.code == 4005


async def test_receipts_mark_delivered_and_failed(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    account = line[0]
    good = await _queued(services, line, "one")
    bad = await _queued(services, line, "two", to="+14155551314")
    await carrier.send(good)
    await carrier.send(bad)
    await peer.receipt(peer.submitted[0])
    await peer.receipt(peer.submitted[1], stat="UNDELIV", state=5)

    async def settled() -> bool:
        return await _status(services, account, bad.message_id) is DeliveryStatus.FAILED

    await _eventually(settled)
    assert await _status(services, account, good.message_id) is DeliveryStatus.DELIVERED
    failed, *_ = await services.messages.get(account, bad.message_id)
    assert failed.error_code == 4001


async def test_receipts_in_text_only_and_with_a_decimal_id_are_recognised(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    account = line[0]
    first = await _queued(services, line, "one")
    second = await _queued(services, line, "two", to="+14155551315")
    await carrier.send(first)
    await carrier.send(second)
    await peer.receipt(peer.submitted[0], in_text_only=True, decimal_id=True)
    await peer.receipt(peer.submitted[1], "EXPIRED", 3, in_text_only=True)

    async def settled() -> bool:
        statuses = [await _status(services, account, m.message_id) for m in (first, second)]
        return statuses == [DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]

    await _eventually(settled)
    expired, *_ = await services.messages.get(account, second.message_id)
    assert expired.error_code == 4002


async def test_a_long_unicode_message_is_concatenated_and_delivered_after_its_last_part(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    text = "Привет из openlinq! " * 8
    outbound = await _queued(services, line, text)
    await carrier.send(outbound)
    assert len(peer.submitted) == len(segments(text, outbound.message_id)) > 1
    assert {(s.data_coding, s.esm_class) for s in peer.submitted} == {(UCS2, UDHI)}
    for submitted in peer.submitted[:-1]:
        await peer.receipt(submitted)
    await asyncio.sleep(0.2)
    assert await _status(services, line[0], outbound.message_id) is DeliveryStatus.SENT
    await peer.receipt(peer.submitted[-1])

    async def delivered() -> bool:
        return await _status(services, line[0], outbound.message_id) is DeliveryStatus.DELIVERED

    await _eventually(delivered)


async def test_mobile_originated_messages_are_received_whole(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    account, number = line
    await peer.mobile_originated("+14155557777", number, b"Hi " + b"\x1be")  # GSM €
    udh = bytes((0x05, 0x00, 0x03, 0x2A, 0x02))
    await peer.mobile_originated(
        "+14155557777",
        number,
        udh + b"\x02" + "ok".encode("utf-16-be"),
        data_coding=8,
        esm_class=0x40,
    )
    await peer.mobile_originated(
        "+14155557777",
        number,
        udh + b"\x01" + "Ж ".encode("utf-16-be"),
        data_coding=8,
        esm_class=0x40,
    )

    async def two_received() -> bool:
        return (await _types(services, account)).count("message.received") == 2

    await _eventually(two_received)
    events = [
        e
        for e in await services.simulator.recent_events(account, 100)
        if e.type == "message.received"
    ]
    texts = sorted(str(e.data) for e in events)
    assert any("Hi €" in t for t in texts)
    assert any("Ж ok" in t for t in texts)


async def test_throttling_is_waited_out(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    peer.throttle = 3
    outbound = await _queued(services, line)
    await carrier.send(outbound)
    assert peer.throttle == 0  # three ESME_RTHROTTLED answers were waited out
    assert len(peer.submitted) == 1
    assert await _status(services, line[0], outbound.message_id) is DeliveryStatus.SENT


async def test_a_bind_dropped_mid_send_loses_nothing_and_repeats_nothing(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    text = "x" * 400  # three GSM parts
    outbound = await _queued(services, line, text)
    peer.drop_after = 1
    with pytest.raises(SmppUnavailableError):  # not a rejection: the send job retries it
        await carrier.send(outbound)
    assert await _status(services, line[0], outbound.message_id) is DeliveryStatus.QUEUED
    await peer.wait_bound()  # the carrier rebinds by itself
    await carrier.send(outbound)  # the job's retry
    assert len(peer.submitted) == 3
    assert [s.short_message[5] for s in peer.submitted] == [1, 2, 3]
    assert await _status(services, line[0], outbound.message_id) is DeliveryStatus.SENT


async def test_media_and_other_services_are_refused_4005(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    outbound = await _queued(services, line)
    media = replace(outbound, parts=({"type": "media", "url": "https://example.com/a.png"},))
    for refused in (media, replace(outbound, service=Service.IMESSAGE)):
        with pytest.raises(CarrierRejectedError) as rejected:
            await carrier.send(refused)
        assert rejected.value.code.code == 4005
    assert peer.submitted == []


async def test_an_unreachable_smsc_makes_the_send_retry_later(
    services: Services, line: tuple[Account, str]
) -> None:
    closed = SmscPeer()  # never started: nothing listens on its port
    settings = {**peer_settings(closed), "connect_timeout": 0.3}
    carrier = await _smpp(services, line, settings)
    await carrier.start()
    try:
        outbound = await _queued(services, line)
        with pytest.raises(SmppUnavailableError, match=r"bind to 127\.0\.0\.1"):
            await carrier.send(outbound)
        assert await _status(services, line[0], outbound.message_id) is DeliveryStatus.QUEUED
        # The SMSC comes up on that port: the carrier binds by itself and the retry goes out.
        await closed.start()
        await closed.wait_bound()
        await carrier.send(outbound)
        assert len(closed.submitted) == 1
    finally:
        await carrier.close()
        await closed.stop()


async def test_sends_share_the_bind_concurrently(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    queued = [await _queued(services, line, f"n{i}", to=f"+1415555140{i}") for i in range(8)]
    await asyncio.gather(*(carrier.send(m) for m in queued))
    assert sorted(s.short_message for s in peer.submitted) == [f"n{i}".encode() for i in range(8)]


async def test_a_transmitter_bind_asks_for_no_receipts(
    services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    carrier = await _smpp(services, line, {**peer_settings(peer), "bind_mode": "transmitter"})
    await carrier.start()
    try:
        await carrier.send(await _queued(services, line))
        assert [s.registered_delivery for s in peer.submitted] == [0]
    finally:
        await carrier.close()


async def _delivered_events(services: Services, account: Account) -> int:
    return (await _types(services, account)).count("message.delivered")


async def test_a_receipt_after_a_restart_reaches_its_message_once(
    services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    account = line[0]
    before = await _smpp(services, line, peer_settings(peer))
    await before.start()
    outbound = await _queued(services, line)
    await before.send(outbound)
    await before.close()  # openlinq stops; the SMSC keeps the receipt until a bind comes back
    after = await _smpp(services, line, peer_settings(peer))
    await after.start()
    try:
        await peer.wait_binds(2)
        await peer.receipt(peer.submitted[0])
        await peer.receipt(peer.submitted[0])  # an SMSC that repeats it

        async def delivered() -> bool:
            return await _status(services, account, outbound.message_id) is (
                DeliveryStatus.DELIVERED
            )

        await _eventually(delivered)
        await asyncio.sleep(0.2)  # the repeat is handled too
        assert await _delivered_events(services, account) == 1
    finally:
        await after.close()


async def test_a_receipt_on_another_bind_of_the_line_reaches_its_message_once(
    services: Services, carrier: SmppCarrier, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    account = line[0]
    other = await _smpp(services, line, peer_settings(peer))  # another process's bind
    await other.start()
    try:
        await peer.wait_binds(2)
        outbound = await _queued(services, line)
        await carrier.send(outbound)
        await peer.receipt(peer.submitted[0], other_bind=True, decimal_id=True)

        async def delivered() -> bool:
            return await _status(services, account, outbound.message_id) is (
                DeliveryStatus.DELIVERED
            )

        await _eventually(delivered)
        await peer.receipt(peer.submitted[0])  # and again on the bind that submitted
        await asyncio.sleep(0.2)
        assert await _delivered_events(services, account) == 1
    finally:
        await other.close()


async def test_a_long_message_receipted_across_binds_is_delivered_after_its_last_segment(
    services: Services, carrier: SmppCarrier, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    account = line[0]
    other = await _smpp(services, line, peer_settings(peer))
    await other.start()
    try:
        await peer.wait_binds(2)
        outbound = await _queued(services, line, "x" * 400)  # three GSM parts
        await carrier.send(outbound)
        first, second, last = peer.submitted
        await peer.receipt(first, other_bind=True)
        await peer.receipt(second)
        await peer.receipt(second, other_bind=True)  # a part receipted twice counts once
        await asyncio.sleep(0.2)
        assert await _status(services, account, outbound.message_id) is DeliveryStatus.SENT
        await peer.receipt(last, other_bind=True)

        async def delivered() -> bool:
            return await _status(services, account, outbound.message_id) is (
                DeliveryStatus.DELIVERED
            )

        await _eventually(delivered)
        assert await _delivered_events(services, account) == 1
        async with services.storage.read() as repos:  # nothing more is awaited
            assert await repos.carrier_refs.parts_of(outbound.message_id) == {}
    finally:
        await other.close()


async def test_a_long_message_fails_once_at_its_first_failed_segment(
    services: Services, carrier: SmppCarrier, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    account = line[0]
    outbound = await _queued(services, line, "x" * 400)
    await carrier.send(outbound)
    first, second, last = peer.submitted
    await peer.receipt(first)
    await peer.receipt(second, stat="UNDELIV", state=5)
    await peer.receipt(last, stat="REJECTD", state=8)
    await peer.receipt(last)

    async def failed() -> bool:
        return await _status(services, account, outbound.message_id) is DeliveryStatus.FAILED

    await _eventually(failed)
    await asyncio.sleep(0.2)
    types = await _types(services, account)
    assert (types.count("message.failed"), types.count("message.delivered")) == (1, 0)


async def test_a_retry_in_a_new_carrier_submits_only_the_segments_not_yet_accepted(
    services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    outbound = await _queued(services, line, "x" * 400)
    first = await _smpp(services, line, peer_settings(peer))
    await first.start()
    peer.drop_after = 1
    with pytest.raises(SmppUnavailableError):
        await first.send(outbound)
    await first.close()  # the process ends; the job is retried by another one
    second = await _smpp(services, line, peer_settings(peer))
    await second.start()
    try:
        await second.send(outbound)
    finally:
        await second.close()
    assert [s.short_message[5] for s in peer.submitted] == [1, 2, 3]
    assert await _status(services, line[0], outbound.message_id) is DeliveryStatus.SENT


async def test_no_more_submits_are_in_flight_than_the_window_allows(
    services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    carrier = await _smpp(services, line, {**peer_settings(peer), "window_size": 3})
    await carrier.start()
    try:
        await peer.wait_bound()
        queued = [await _queued(services, line, f"w{i}", to=f"+1415555150{i}") for i in range(7)]
        peer.holding = True
        sending = asyncio.gather(*(carrier.send(m) for m in queued))
        await asyncio.sleep(0.5)  # every send has had time to reach the bind
        assert len(peer.held) == 3
        await peer.release()
        await asyncio.wait_for(sending, 10)
        assert len(peer.submitted) == 7
    finally:
        await carrier.close()


async def test_last_segments_receipted_at_once_on_two_binds_deliver_each_message_once(
    services: Services, carrier: SmppCarrier, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    account = line[0]
    other = await _smpp(services, line, peer_settings(peer))
    await other.start()
    try:
        await peer.wait_binds(2)
        sent = [await _queued(services, line, "y" * 300, to=f"+1415555160{i}") for i in range(4)]
        for outbound in sent:
            await carrier.send(outbound)
        pairs = [peer.submitted[i : i + 2] for i in range(0, len(peer.submitted), 2)]
        assert len(pairs) == len(sent)
        # Each message's two receipts race each other, one on each bind.
        await asyncio.gather(
            *(peer.receipt(first) for first, _ in pairs),
            *(peer.receipt(second, other_bind=True) for _, second in pairs),
        )

        async def all_delivered() -> bool:
            statuses = {await _status(services, account, m.message_id) for m in sent}
            return statuses == {DeliveryStatus.DELIVERED}

        await _eventually(all_delivered)
        assert await _delivered_events(services, account) == len(sent)
    finally:
        await other.close()


async def test_a_receipt_for_an_unknown_id_is_logged_and_dropped(
    carrier: SmppCarrier,
    services: Services,
    peer: SmscPeer,
    line: tuple[Account, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbound = await _queued(services, line)
    await carrier.send(outbound)
    stranger = replace(peer.submitted[0], smsc_id="DEAD01")
    with caplog.at_level("WARNING", logger="openlinq.delivery.smpp.carrier"):
        await peer.receipt(stranger)

        async def logged() -> bool:
            return any("unknown message 'DEAD01'" in r.getMessage() for r in caplog.records)

        await _eventually(logged)
    assert await _status(services, line[0], outbound.message_id) is DeliveryStatus.SENT


async def test_a_receipt_that_overtakes_another_process_storing_its_id_still_counts(
    carrier: SmppCarrier, services: Services, peer: SmscPeer, line: tuple[Account, str]
) -> None:
    account, number = line
    outbound = await _queued(services, line)
    await services.simulator.recorder.sent(outbound.message_id)
    # Another process's bind submitted it: the receipt reaches this bind before that
    # process has stored the SMSC id.
    elsewhere = Submitted("C0FFEE", number.lstrip("+"), RECIPIENT.lstrip("+"), 0, 0, b"", 1)
    await peer.receipt(elsewhere)
    async with services.storage.write() as repos:
        await repos.carrier_refs.put_message(
            carrier.line_id, "C0FFEE", outbound.message_id, services.clock.now()
        )

    async def delivered() -> bool:
        return await _status(services, account, outbound.message_id) is DeliveryStatus.DELIVERED

    await _eventually(delivered)
