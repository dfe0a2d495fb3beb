"""How text becomes SMS segments (GSM 03.38 / UCS-2, concatenation UDH) and back."""

from __future__ import annotations

import pytest

from openlinq.delivery.smpp.encoding import GSM7, UCS2, UDHI, decode, reference, segments
from openlinq.delivery.smpp.settings import SmppSettings


def test_short_gsm_text_is_one_segment_without_header() -> None:
    [only] = segments("Hello [world] €", "m1")
    assert (only.data_coding, only.esm_class) == (GSM7, 0)
    assert decode(only.data_coding, only.esm_class, only.short_message).text == "Hello [world] €"


def test_160_septets_fit_one_sms_and_161_need_two() -> None:
    assert len(segments("a" * 160, "m")) == 1
    two = segments("a" * 161, "m")
    assert [len(s.short_message) - 6 for s in two] == [153, 8]
    assert all(s.esm_class == UDHI for s in two)


def test_an_escape_pair_is_never_split() -> None:
    parts = segments("a" * 152 + "€" + "b" * 10, "m")
    first = decode(parts[0].data_coding, parts[0].esm_class, parts[0].short_message)
    assert first.text == "a" * 152  # the two-septet € goes whole into part two


def test_non_gsm_text_is_ucs2_and_long_text_is_joined_back() -> None:
    text = "Привет, мир! 👋 " * 10
    parts = segments(text, "msg-7")
    assert all(p.data_coding == UCS2 for p in parts)
    decoded = [decode(p.data_coding, p.esm_class, p.short_message) for p in parts]
    assert {d.reference for d in decoded} == {reference("msg-7")}
    assert [d.number for d in decoded] == list(range(1, len(parts) + 1))
    assert {d.total for d in decoded} == {len(parts)}
    assert "".join(d.text for d in decoded) == text
    assert all(len(p.short_message) <= 140 for p in parts)


def test_settings_never_show_the_password() -> None:
    settings = SmppSettings(host="127.0.0.1", system_id="esme", password="s3cret")
    assert "s3cret" not in repr(settings)
    with pytest.raises(ValueError, match="bind_mode"):
        SmppSettings(host="h", system_id="e", password="p", bind_mode="receiver")  # type: ignore[arg-type]


def test_settings_come_from_stored_json_or_cli_strings_and_round_trip() -> None:
    settings = SmppSettings.from_dict(
        {"host": "h", "system_id": "e", "password": "p", "port": "2776", "tls": "yes"}
    )
    assert (settings.port, settings.tls, settings.bind_type) == (2776, True, "TRX")
    assert SmppSettings.from_dict(settings.to_dict()) == settings
    assert "password" in SmppSettings.SECRET_FIELDS


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"host": "h"}, "missing SMPP setting"),
        ({"host": "h", "system_id": "e", "password": "p", "colour": 1}, "unknown SMPP setting"),
        ({"host": "h", "system_id": "e", "password": "p", "port": "x"}, "port must be a number"),
        ({"host": "h", "system_id": "e", "password": "p", "tls": "maybe"}, "tls must be true"),
        ({"host": "h", "system_id": "e", "password": "p", "port": 0}, "port must be 1-65535"),
        ({"host": "h", "system_id": "e", "password": "123456789"}, "password 8"),
    ],
)
def test_bad_settings_are_refused_with_one_line(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SmppSettings.from_dict(data)
