"""Simulated devices: magic numbers, email handles, overrides on presets, the default."""

from __future__ import annotations

from typing import Any

import pytest

from openlinq.delivery.simulator.devices import (
    MAGIC_SUFFIXES,
    PRESETS,
    DeviceProfile,
    Reply,
    builtin_profile,
    resolve_profile,
)
from openlinq.domain.models import Service

IM, RCS, SMS = Service.IMESSAGE, Service.RCS, Service.SMS
AREA_CODES = ["415", "212", "628", "999", "200"]


@pytest.mark.parametrize("area", AREA_CODES)
@pytest.mark.parametrize(
    ("suffix", "preset"),
    [
        ("01", "sms_only"),
        ("02", "android"),
        ("03", "unreachable"),
        ("04", "reader"),
        ("05", "echo_bot"),
        ("06", "stopper"),
        ("07", "slow"),
        ("08", "reactor"),
    ],
)
def test_magic_suffixes_pick_a_preset_in_any_area_code(area: str, suffix: str, preset: str) -> None:
    assert builtin_profile(f"+1{area}55501{suffix}") is PRESETS[preset]


def test_every_magic_suffix_is_a_preset() -> None:
    assert set(MAGIC_SUFFIXES) == {f"0{n}" for n in range(1, 9)}
    assert set(MAGIC_SUFFIXES.values()) <= set(PRESETS)


@pytest.mark.parametrize(
    ("preset", "behaviour"),
    [
        ("sms_only", {"services": frozenset({SMS})}),
        ("android", {"services": frozenset({RCS, SMS})}),
        ("unreachable", {"reachable": False}),
        ("reader", {"read_after": 1.0, "reply": Reply.NONE}),
        ("echo_bot", {"read_after": 1.0, "typing": True, "reply": Reply.ECHO}),
        ("stopper", {"reply": Reply.STOP_FIRST, "reply_after": 1.0}),
        ("slow", {"deliver_after": 5.0, "read_after": None}),
        ("reactor", {"react": "love"}),
        ("email", {"services": frozenset({IM})}),
    ],
)
def test_presets_behave_as_documented(preset: str, behaviour: dict[str, Any]) -> None:
    profile = PRESETS[preset]
    assert {field: getattr(profile, field) for field in behaviour} == behaviour


@pytest.mark.parametrize(
    "handle",
    [
        "+14155550100",  # unassigned magic suffixes
        "+14155550109",
        "+14155550199",
        "+14155550201",  # a different exchange line
        "+14155560105",  # a different exchange
        "+441415550105",  # not a North American number
        "+14155551234",
    ],
)
def test_other_phone_numbers_are_plain_iphones(handle: str) -> None:
    profile = builtin_profile(handle)
    assert profile is PRESETS["iphone"]
    assert (profile.services, profile.reachable, profile.deliver_after) == (
        frozenset({IM, SMS}),
        True,
        0.0,
    )
    assert (profile.read_after, profile.reply, profile.typing, profile.react) == (
        None,
        Reply.NONE,
        False,
        None,
    )


@pytest.mark.parametrize("handle", ["ada@example.com", "+14155550105@example.com"])
def test_email_handles_are_imessage_only(handle: str) -> None:
    assert builtin_profile(handle) is PRESETS["email"]


@pytest.mark.parametrize("override", [None, {}])
def test_no_override_is_the_builtin_device(override: dict[str, Any] | None) -> None:
    assert resolve_profile("+14155550102", override) is PRESETS["android"]


def test_overrides_layer_on_the_handles_own_preset() -> None:
    profile = resolve_profile("+14155550105", {"read_after": 5.0})
    assert (profile.name, profile.read_after, profile.reply, profile.typing) == (
        "echo_bot",
        5.0,
        Reply.ECHO,
        True,
    )


def test_a_preset_override_replaces_the_magic_number() -> None:
    profile = resolve_profile("+14155550105", {"preset": "android", "deliver_after": 2})
    assert (profile.name, profile.services, profile.deliver_after, profile.reply) == (
        "android",
        frozenset({RCS, SMS}),
        2,
        Reply.NONE,
    )


def test_overrides_convert_wire_values() -> None:
    profile = resolve_profile(
        "+14155551234",
        {"services": ["RCS", "SMS"], "reply": "stop_first", "location": [-122.4, 37.8]},
    )
    assert (profile.services, profile.reply, profile.location) == (
        frozenset({RCS, SMS}),
        Reply.STOP_FIRST,
        (-122.4, 37.8),
    )


def test_overrides_never_change_the_presets() -> None:
    resolve_profile("+14155550101", {"reachable": False})
    assert PRESETS["sms_only"].reachable is True


def test_to_json_round_trips_through_overrides() -> None:
    echo = PRESETS["echo_bot"].with_overrides({"location": [1, 2]})
    data = echo.to_json()
    assert data["services"] == ["SMS", "iMessage"]
    assert (data["reply"], data["location"], data["read_after"]) == ("echo", [1.0, 2.0], 1.0)
    fields = {k: v for k, v in data.items() if k != "name"}
    assert DeviceProfile("echo_bot", frozenset()).with_overrides(fields) == echo
