"""SMS over one SMPP bind per line: submit_sm out, deliver_sm (receipts and MO) in.

State kept in memory, by choice (docs/differences.md): the SMSC ids of submitted
segments awaiting a receipt, the segments of a long message already accepted (so a
send retried after a dropped bind submits only the rest), and MO parts awaiting their
siblings. A receipt that arrives after openlinq restarted is logged and dropped.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import OrderedDict
from typing import Any

import smpp34
from smpp34 import _smpp34 as smpp_constants  # the stub declares the TLV_/ESME_ constants here

from openlinq.delivery.carrier import Carrier, CarrierRejectedError, ChatAction, OutboundMessage
from openlinq.delivery.smpp.encoding import Part, decode, segments
from openlinq.delivery.smpp.session import SmppRefusedError, SmppSession
from openlinq.delivery.smpp.settings import SmppSettings
from openlinq.domain.delivery import SENDABLE, DeliveryRecorder
from openlinq.domain.errors import ErrorCode
from openlinq.domain.ids import AccountId, MessageId
from openlinq.domain.models import Service
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
_REMEMBERED = 100_000  # receipts awaited; the oldest are forgotten past this
_MO_PENDING = 10_000  # long inbound messages waiting for their other parts


class SmppCarrier(Carrier):
    name = "smpp"

    def __init__(
        self,
        settings: SmppSettings,
        *,
        account_id: AccountId,
        phone_number: str,
        storage: Storage,
        recorder: DeliveryRecorder,
        **_unused: object,  # line_id, inbound_url, clock, queue, policy: SMPP needs none
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.recorder = recorder
        self.account_id = account_id
        self.line_number = phone_number
        self.session = SmppSession(settings, self._deliver)
        self._accepted: dict[MessageId, dict[int, str]] = {}
        self._awaiting: OrderedDict[str, tuple[MessageId, int]] = OrderedDict()
        self._delivered: dict[MessageId, set[str]] = {}
        self._mo_parts: dict[tuple[str, int, int], dict[int, str]] = {}

    async def start(self) -> None:
        """Bind in the background (rebinding with backoff for as long as the carrier runs)."""
        self.session.start()

    async def close(self) -> None:
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
        accepted = self._accepted.setdefault(message.message_id, {})
        for index, segment in enumerate(parts):
            if index in accepted:
                continue  # accepted before the bind dropped: not again
            try:
                smsc_id = await self.session.submit(**self._pdu(message, recipient, segment))
            except SmppRefusedError as refused:
                self._accepted.pop(message.message_id, None)
                code = (
                    ErrorCode.PHONE_NOT_AVAILABLE
                    if refused.status in _BAD_DESTINATION
                    else ErrorCode.DELIVERY_FAILED
                )
                raise CarrierRejectedError(code, str(refused)) from refused
            accepted[index] = smsc_id
            self._await_receipt(smsc_id, message.message_id, len(parts))
        await self.recorder.sent(message.message_id)
        self._accepted.pop(message.message_id, None)

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

    def _await_receipt(self, smsc_id: str, message_id: MessageId, total: int) -> None:
        if not smsc_id or not self.settings.receives:
            return
        self._awaiting[smsc_id] = (message_id, total)
        while len(self._awaiting) > _REMEMBERED:
            _, (old, _) = self._awaiting.popitem(last=False)
            self._delivered.pop(old, None)

    async def perform(self, action: ChatAction) -> None:
        # SMS has no reactions, edits, typing, read receipts or group management.
        raise CarrierRejectedError(
            ErrorCode.RECIPIENT_UNSUPPORTED_TYPE, f"SMS cannot carry {action.kind}"
        )

    async def _deliver(self, event: smpp34.DeliverSmEvent) -> None:
        if event.esm_class & _RECEIPT_MASK == _SMSC_RECEIPT:
            await self._receipt(event)
        elif event.esm_class & _RECEIPT_MASK == 0:
            await self._mobile_originated(event)

    async def _receipt(self, event: smpp34.DeliverSmEvent) -> None:
        receipted, state = _receipt_fields(event)
        smsc_id = next((i for i in _spellings(receipted) if i in self._awaiting), None)
        if smsc_id is None or state is None:
            log.warning("smpp receipt for unknown message %r (state %s) dropped", receipted, state)
            return
        if state in _PENDING:
            return
        message_id, total = self._awaiting.pop(smsc_id)
        if state == "DELIVRD":
            done = self._delivered.setdefault(message_id, set())
            done.add(smsc_id)
            if len(done) >= total:  # a long message is delivered when its last part is
                del self._delivered[message_id]
                await self.recorder.delivered(message_id)
            return
        self._delivered.pop(message_id, None)
        code = _FAILED.get(state, ErrorCode.DELIVERY_FAILED)
        await self.recorder.failed(message_id, code, f"SMSC receipt: {state}")

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
