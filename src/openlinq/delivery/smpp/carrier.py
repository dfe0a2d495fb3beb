"""SMS over one SMPP bind per line: submit_sm out, deliver_sm (receipts and MO) in.

The SMSC id of every accepted segment is stored (``repos.carrier_refs``, by line and
id): a send retried after a dropped bind submits only the segments not yet accepted,
and a delivery receipt reaches its message whichever bind of the line it arrives on
(another process's, or this one's after a restart). A long message is delivered when
every segment's receipt says so, failed at the first that says otherwise. Only MO parts
awaiting their siblings are kept in memory (docs/gateways.md, Limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import smpp34
from smpp34 import _smpp34 as smpp_constants  # the stub declares the TLV_/ESME_ constants here

from openlinq.delivery.carrier import CarrierRejectedError, ChatAction, OutboundMessage
from openlinq.delivery.routing import LineCarrier
from openlinq.delivery.smpp.encoding import Part, decode, segments
from openlinq.delivery.smpp.session import SmppRefusedError, SmppSession
from openlinq.delivery.smpp.settings import SmppSettings
from openlinq.domain.clock import Clock
from openlinq.domain.delivery import SENDABLE, DeliveryRecorder
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import AccountId, LineId, MessageId
from openlinq.domain.models import Service
from openlinq.store.repos.carrier_refs import MessageRef
from openlinq.store.unit import Storage

log = logging.getLogger(__name__)

_PHONE = re.compile(r"^\+?\d{3,15}$")
_RECEIPT_ID = re.compile(r"\bid:(\S+)", re.IGNORECASE)
_RECEIPT_STAT = re.compile(r"\bstat:(\w+)", re.IGNORECASE)
# message_state TLV values (SMPP 3.4 5.2.28) and the receipt text's stat: words.
_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_PENDING = frozenset({"ENROUTE", "ACCEPTD"})
# EXPIRED: the phone stayed unreachable for the whole validity period.
_FAILED = {"EXPIRED": ErrorCode.PHONE_NOT_AVAILABLE}
# submit_sm refusals about the destination: the recipient cannot be reached at all.
_BAD_DESTINATION = frozenset({0x0B, 0x50, 0x51})  # ESME_RINVDSTADR, RINVDSTTON, RINVDSTNPI
_RECEIPT_MASK, _SMSC_RECEIPT = 0x3C, 0x04
_MO_PENDING = 10_000  # long inbound messages waiting for their other parts
# The stored id of a segment the SMSC accepted without naming it (no receipt can match).
_UNNAMED = "unnamed:"
# Seconds before a receipt for an unknown id is looked up once more: the process whose bind
# submitted the segment may not have stored its id yet when the receipt reaches another bind.
RECHECK_AFTER = 1.0


class SmppCarrier(LineCarrier):
    name = "smpp"

    def __init__(
        self,
        settings: SmppSettings,
        *,
        account_id: AccountId,
        line_id: LineId,
        phone_number: str,
        storage: Storage,
        clock: Clock,
        recorder: DeliveryRecorder,
        **_unused: object,  # inbound_url, queue, policy: SMPP needs none
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.recorder = recorder
        self.account_id = account_id
        self.line_id = line_id
        self.line_number = phone_number
        self.session = SmppSession(settings, self._deliver)
        # Submits whose SMSC id is not stored yet: a receipt can overtake that write.
        self._recording: set[asyncio.Event] = set()
        self._rechecks: set[asyncio.Task[None]] = set()
        self._mo_parts: dict[tuple[str, int, int], dict[int, str]] = {}

    async def start(self) -> None:
        """Bind in the background (rebinding with backoff for as long as the carrier runs)."""
        self.session.start()

    async def close(self) -> None:
        for task in list(self._rechecks):
            task.cancel()
        await self.session.close()

    async def capabilities(self, account_id: AccountId, handle: str) -> frozenset[Service]:
        return frozenset({Service.SMS}) if _PHONE.match(handle) else frozenset()

    async def send(self, message: OutboundMessage) -> None:
        if not await self._sendable(message.message_id):
            return  # a retried job after the send was recorded: never submit twice
        text = _text_of(message)
        if message.service is not Service.SMS:
            raise CarrierRejectedError(
                ErrorCode.RECIPIENT_UNSUPPORTED_TYPE,
                f"an SMPP line carries SMS, not {message.service}",
            )
        if message.is_group or len(message.recipients) != 1:
            raise CarrierRejectedError(
                ErrorCode.RECIPIENT_UNSUPPORTED_TYPE, "SMS over SMPP reaches one recipient"
            )
        recipient = message.recipients[0]
        if not _PHONE.match(recipient):
            raise CarrierRejectedError(
                ErrorCode.PHONE_NOT_AVAILABLE, f"{recipient} has no SMS number"
            )
        parts = segments(text, message.message_id)
        async with self.storage.read() as repos:
            accepted = await repos.carrier_refs.parts_of(message.message_id)
        for index, segment in enumerate(parts):
            if index in accepted:
                continue  # accepted before the bind dropped (here or elsewhere): not again
            await self._submit(message, recipient, segment, index, len(parts))
        async with self.storage.write() as repos:
            await self.recorder.sent(message.message_id, within=repos)
            if not self._awaits_receipts:
                await repos.carrier_refs.forget_message(message.message_id)

    @property
    def _awaits_receipts(self) -> bool:
        return self.settings.registered_delivery and self.settings.receives

    async def _submit(
        self, message: OutboundMessage, recipient: str, segment: Any, index: int, total: int
    ) -> None:
        """Submit one segment and store its SMSC id before anything else reads it."""
        recorded = asyncio.Event()
        self._recording.add(recorded)
        try:
            try:
                smsc_id = await self.session.submit(**self._pdu(message, recipient, segment))
            except SmppRefusedError as refused:
                async with self.storage.write() as repos:
                    await repos.carrier_refs.forget_message(message.message_id)
                code = (
                    ErrorCode.PHONE_NOT_AVAILABLE
                    if refused.status in _BAD_DESTINATION
                    else ErrorCode.DELIVERY_FAILED
                )
                raise CarrierRejectedError(code, str(refused)) from refused
            # An SMSC that names no id sends no receipt we could match: the row still
            # says the segment was accepted.
            external_id = smsc_id or f"{_UNNAMED}{message.message_id}:{index}"
            async with self.storage.write() as repos:
                await repos.carrier_refs.put_message(
                    self.line_id,
                    external_id,
                    message.message_id,
                    self.clock.now(),
                    part=index,
                    parts=total,
                )
        finally:
            self._recording.discard(recorded)
            recorded.set()

    def _pdu(self, message: OutboundMessage, recipient: str, segment: Any) -> dict[str, Any]:
        s = self.settings
        return {
            "destination_addr": recipient.lstrip("+"),
            "short_message": segment.short_message,
            "source_addr": message.from_number.lstrip("+"),
            "source_addr_ton": s.source_ton,
            "source_addr_npi": s.source_npi,
            "dest_addr_ton": s.dest_ton,
            "dest_addr_npi": s.dest_npi,
            "esm_class": segment.esm_class,
            "data_coding": segment.data_coding,
            "registered_delivery": 1 if s.registered_delivery and s.receives else 0,
        }

    async def _sendable(self, message_id: MessageId) -> bool:
        async with self.storage.read() as repos:
            stored = await repos.messages.get_any(message_id)
        return stored is not None and stored.delivery_status in SENDABLE

    @classmethod
    def never_carries(cls, kind: str, data: dict[str, Any]) -> LinqError | None:
        # SMS has no reactions, edits, typing, read receipts or group management. Marking a
        # chat read is openlinq's own state: nothing to tell the SMSC, nothing to refuse.
        if kind == "chat_read":
            return None
        return LinqError(ErrorCode.RECIPIENT_UNSUPPORTED_TYPE, f"SMS cannot carry {kind}")

    async def perform(self, action: ChatAction) -> None:
        refused = self.never_carries(action.kind, action.data)
        if refused is not None:
            raise CarrierRejectedError(refused.code, refused.message)

    async def _deliver(self, event: smpp34.DeliverSmEvent) -> None:
        if event.esm_class & _RECEIPT_MASK == _SMSC_RECEIPT:
            await self._receipt(event)
        elif event.esm_class & _RECEIPT_MASK == 0:
            await self._mobile_originated(event)

    async def _receipt(self, event: smpp34.DeliverSmEvent) -> None:
        receipted, state = _receipt_fields(event)
        if state in _PENDING:
            return  # not final: changes nothing
        spellings = _spellings(receipted)
        ref = await self._awaited(spellings) if state is not None else None
        if ref is not None and state is not None:
            await self._settle(ref, state)
        elif state is not None and spellings:
            # Another process's bind may have submitted it and not stored its id yet.
            self._look_again(receipted, spellings, state)
        else:
            log.warning("smpp receipt for unknown message %r (state %s) dropped", receipted, state)

    def _look_again(self, receipted: str | None, spellings: list[str], state: str) -> None:
        task = asyncio.create_task(self._recheck(receipted, spellings, state))
        self._rechecks.add(task)
        task.add_done_callback(self._rechecks.discard)

    async def _recheck(self, receipted: str | None, spellings: list[str], state: str) -> None:
        await asyncio.sleep(RECHECK_AFTER)
        try:
            ref = await self._stored(spellings)
            if ref is None:
                log.warning(
                    "smpp receipt for unknown message %r (state %s) dropped", receipted, state
                )
                return
            await self._settle(ref, state)
        except Exception:
            log.exception("smpp receipt for %r (state %s) not recorded", receipted, state)

    async def _settle(self, ref: MessageRef, state: str) -> None:
        """A final receipt for one segment: the message delivered or failed, once."""
        async with self.storage.write() as repos:
            # Receipts of one message's segments, on any bind, one at a time (PostgreSQL;
            # SQLite writes are serial): the last segment's sees every other one's.
            await repos.locks.hold(f"smpp-receipt:{ref.message_id}")
            refs = repos.carrier_refs
            if state == "DELIVRD":
                if not await refs.mark_delivered(self.line_id, ref.external_id):
                    return  # this segment's receipt came before (twice, or on another bind)
                if await refs.delivered_parts(ref.message_id) < ref.parts:
                    return  # a long message is delivered when its last segment is
                await refs.forget_message(ref.message_id)
                await self.recorder.delivered(ref.message_id, within=repos)
                return
            if not await refs.forget_message(ref.message_id):
                return  # another segment's receipt failed it already
            code = _FAILED.get(state, ErrorCode.DELIVERY_FAILED)
            await self.recorder.failed(ref.message_id, code, f"SMSC receipt: {state}", within=repos)

    async def _awaited(self, spellings: list[str]) -> MessageRef | None:
        """The stored segment a receipt is about, by any spelling of its id."""
        ref = await self._stored(spellings)
        if ref is None and self._recording:
            # The SMSC answered a submit and sent its receipt at once: the receipt may be
            # read before that submit's id is stored. Wait for the submits in flight here.
            pending = [event.wait() for event in self._recording]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending), self.settings.connect_timeout)
            ref = await self._stored(spellings)
        return ref

    async def _stored(self, spellings: list[str]) -> MessageRef | None:
        async with self.storage.read() as repos:
            return await repos.carrier_refs.find_message(self.line_id, spellings)

    async def _mobile_originated(self, event: smpp34.DeliverSmEvent) -> None:
        sender = event.source_addr
        if event.source_addr_ton == 1 and sender.isdigit():
            sender = "+" + sender
        part = decode(event.data_coding, event.esm_class, event.short_message)
        text = self._joined(sender, part)
        if text is not None:
            await self.recorder.inbound_message(
                self.account_id,
                self.line_number,
                sender,
                [{"type": "text", "value": text}],
                Service.SMS,
            )

    def _joined(self, sender: str, part: Part) -> str | None:
        """The whole text once every part of a long MO message has arrived."""
        if part.total <= 1:
            return part.text
        key = (sender, part.reference, part.total)
        if key not in self._mo_parts and len(self._mo_parts) >= _MO_PENDING:
            # A part that never came: forget the oldest incomplete message.
            del self._mo_parts[next(iter(self._mo_parts))]
        got = self._mo_parts.setdefault(key, {})
        got[part.number] = part.text
        if len(got) < part.total:
            return None
        del self._mo_parts[key]
        return "".join(got[n] for n in sorted(got))


def _text_of(message: OutboundMessage) -> str:
    texts = []
    for part in message.parts:
        if part.get("type") != "text":
            raise CarrierRejectedError(
                ErrorCode.RECIPIENT_UNSUPPORTED_TYPE, "SMS over SMPP carries text only (no MMS)"
            )
        texts.append(str(part.get("value", "")))
    if message.is_poll or not texts:
        raise CarrierRejectedError(ErrorCode.RECIPIENT_UNSUPPORTED_TYPE, "SMS carries text only")
    return "\n".join(texts)


def _spellings(receipted: str | None) -> list[str]:
    """The receipted id as given, then as the other base: many SMSCs answer submit_sm with a
    hex id and write it in decimal in the receipt, or the other way round."""
    if not receipted:
        return []
    spellings = [receipted]
    if receipted.isdigit():
        spellings.append(f"{int(receipted):X}")
        spellings.append(f"{int(receipted):x}")
    with contextlib.suppress(ValueError):
        spellings.append(str(int(receipted, 16)))
    return spellings


def _receipt_fields(event: smpp34.DeliverSmEvent) -> tuple[str | None, str | None]:
    """The receipted SMSC id and final state: the TLVs when present, else the receipt text."""
    smsc_id: str | None = None
    state: str | None = None
    for tlv in event.tlvs:
        if tlv.tag == smpp_constants.TLV_RECEIPTED_MESSAGE_ID:
            smsc_id = (tlv.as_string() or "").rstrip("\x00") or None
        elif tlv.tag == smpp_constants.TLV_MESSAGE_STATE:
            value = tlv.as_int()
            state = _STATES.get(value) if value is not None else None
    text = event.short_message.decode("latin-1", errors="replace")
    if smsc_id is None and (found := _RECEIPT_ID.search(text)):
        smsc_id = found.group(1)
    if state is None and (found := _RECEIPT_STAT.search(text)):
        state = found.group(1).upper()
    return smsc_id, state
