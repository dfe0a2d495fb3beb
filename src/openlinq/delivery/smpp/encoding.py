"""Text <-> SMS segments: GSM 03.38 when every character has a code, else UCS-2.

The PDUs themselves are smpp34's; what is ours is the SMS rule of how text is cut
into segments that carry a concatenation header (UDH IE 0x00, 8-bit reference).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the 'gsm03.38' codec)

GSM7 = 0x00  # SMSC default alphabet: one unpacked septet per octet
UCS2 = 0x08
UDHI = 0x40  # esm_class bit: short_message starts with a user data header
_GSM = "gsm03.38"
# Septets (GSM) or UTF-16 code units (UCS-2) in one SMS / in one part of a long one.
_SINGLE = {GSM7: 160, UCS2: 70}
_PART = {GSM7: 153, UCS2: 67}
_UNIT = {GSM7: 1, UCS2: 2}  # octets per unit in short_message


@dataclass(frozen=True, slots=True)
class Segment:
    data_coding: int
    esm_class: int
    short_message: bytes


def _units(char: str, data_coding: int) -> bytes:
    return char.encode(_GSM if data_coding == GSM7 else "utf-16-be")


def coding_for(text: str) -> int:
    try:
        text.encode(_GSM)
    except UnicodeEncodeError:
        return UCS2
    return GSM7


def reference(key: str) -> int:
    """The concatenation reference: derived from the message id, so a retried send
    repeats the same reference and a handset can still join the parts."""
    return zlib.crc32(key.encode()) & 0xFF


def segments(text: str, key: str) -> list[Segment]:
    """``text`` as one SMS, or as parts with a UDH when it is longer than one holds.

    A character is never split (a GSM escape pair, a UTF-16 surrogate pair)."""
    coding = coding_for(text)
    whole = text.encode(_GSM if coding == GSM7 else "utf-16-be")
    if len(whole) <= _SINGLE[coding] * _UNIT[coding]:
        return [Segment(coding, 0, whole)]
    limit = _PART[coding] * _UNIT[coding]
    chunks: list[bytes] = []
    current = b""
    for char in text:
        encoded = _units(char, coding)
        if len(current) + len(encoded) > limit:
            chunks.append(current)
            current = b""
        current += encoded
    chunks.append(current)
    if len(chunks) > 255:
        raise ValueError("text is longer than 255 SMS parts")
    ref = reference(key)
    return [
        Segment(coding, UDHI, bytes((0x05, 0x00, 0x03, ref, len(chunks), n)) + chunk)
        for n, chunk in enumerate(chunks, start=1)
    ]


@dataclass(frozen=True, slots=True)
class Part:
    """A decoded inbound short message; ``total`` > 1 when it is one part of several."""

    text: str
    reference: int = 0
    total: int = 1
    number: int = 1


def decode(data_coding: int, esm_class: int, payload: bytes) -> Part:
    ref, total, number = 0, 1, 1
    if esm_class & UDHI and payload:
        header_len = payload[0] + 1
        header, payload = payload[1:header_len], payload[header_len:]
        at = 0
        while at + 1 < len(header):
            ie, size = header[at], header[at + 1]
            value = header[at + 2 : at + 2 + size]
            if ie == 0x00 and size == 3:
                ref, total, number = value[0], value[1], value[2]
            elif ie == 0x08 and size == 4:  # 16-bit reference
                ref, total, number = int.from_bytes(value[:2], "big"), value[2], value[3]
            at += 2 + size
    return Part(_text(data_coding, payload), ref, total, number)


def _text(data_coding: int, payload: bytes) -> str:
    if data_coding == UCS2:
        return payload.decode("utf-16-be", errors="replace")
    if data_coding in (0x01, 0x03):  # IA5/ASCII, Latin-1
        return payload.decode("latin-1")
    return payload.decode(_GSM, errors="replace")
