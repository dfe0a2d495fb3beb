"""check_content: a file's bytes must match its declared content type."""

from __future__ import annotations

import pytest

from openlinq.domain.errors import LinqError
from openlinq.domain.sniffing import check_content


@pytest.mark.parametrize(
    ("declared", "head", "code"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, None),
        ("application/pdf", b"%PDF-1.7\n", None),
        ("text/plain", "héllo wörld".encode(), None),
        ("application/zip", b"PK\x03\x04" + b"\0" * 32, None),
        ("image/png", b"just some text", 5006),
        ("text/csv", b"\x89PNG\r\n\x1a\n\0\0", 5006),
        ("image/jpeg", b"MZ\x90\x00" + b"\0" * 32, 5004),
        # unrecognised bytes are no image or PDF, whatever they are declared as
        ("image/png", b"\x00\x13\x37\xfe\x01" * 8, 5004),
        ("image/heif", b"\x00\x13\x37\xfe\x01" * 8, 5004),
        ("application/pdf", b"\x00\x13\x37\xfe\x01" * 8, 5004),
        # ... but an ISO-media image of a brand puremagic does not know is one
        ("image/heif", b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic" + b"\0" * 40, None),
        ("image/bmp", b"BM" + b"\0" * 60, None),
        # a format without a fixed signature (raw MP3 frames) is taken on trust
        ("audio/mpeg", b"\xff\xfb\x90\x64" + b"\x00\x13\x37" * 8, None),
    ],
)
def test_content_sniffing(declared: str, head: bytes, code: int | None) -> None:
    if code is None:
        check_content(declared, head)
        return
    with pytest.raises(LinqError) as refused:
        check_content(declared, head)
    assert refused.value.code.code == code
