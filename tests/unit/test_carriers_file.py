"""The carriers file: TOML entries, secrets from the environment, every mistake named."""

from __future__ import annotations

import pytest

from openlinq.cli.carriers_file import CarriersFileError, DeclaredCarrier, parse_carriers_file

GOOD = """
[[line]]
account = "acct_1"
phone_number = "+14155550100"
carrier = "bluebubbles"
settings = { url = "https://mac.example.net", password = { env = "BB_PASSWORD" }, timeout = 5 }

[[line]]
account = "acct_1"
phone_number = "+14155550101"
carrier = "simulator"
"""


def test_entries_are_read_with_secrets_from_the_environment() -> None:
    declared = parse_carriers_file(GOOD, {"BB_PASSWORD": "hunter2"})
    assert declared == [
        DeclaredCarrier(
            "acct_1",
            "+14155550100",
            "bluebubbles",
            {"url": "https://mac.example.net", "password": "hunter2", "timeout": 5},
        ),
        DeclaredCarrier("acct_1", "+14155550101", "simulator", {}),
    ]


def test_an_empty_file_declares_nothing() -> None:
    assert parse_carriers_file("", {}) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[line]\n", "not TOML"),
        ("lines = 1", "unknown top-level key(s): lines"),
        ("line = 1", "declare each line as a [[line]] table"),
        ('[[line]]\naccount = "a"\ncarrier = "smpp"', "entry 1: phone_number must be a non-empty"),
        ('[[line]]\naccount = "a"\nphone_number = "+1"\ncarrier = ""', "entry 1: carrier must be"),
        (
            '[[line]]\naccount = "a"\nphone_number = "+1"\ncarrier = "smpp"\nprovider = "x"',
            "entry 1: unknown key(s): provider",
        ),
        (
            '[[line]]\naccount = "a"\nphone_number = "+1"\ncarrier = "smpp"\nsettings = 3',
            "entry 1: settings must be a table",
        ),
        (
            '[[line]]\naccount = "a"\nphone_number = "+1"\ncarrier = "smpp"\n'
            'settings = { password = { env = "MISSING" } }',
            "entry 1: password: the environment has no MISSING",
        ),
        (
            '[[line]]\naccount = "a"\nphone_number = "+1"\ncarrier = "smpp"\n'
            'settings = { password = { file = "/etc/x" } }',
            'entry 1: password: a table value must be { env = "NAME" }',
        ),
        (
            '[[line]]\naccount = "a"\nphone_number = "+1"\ncarrier = "simulator"\n'
            '[[line]]\naccount = "a"\nphone_number = "+1"\ncarrier = "smpp"',
            "declared more than once: +1",
        ),
    ],
)
def test_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(CarriersFileError) as raised:
        parse_carriers_file(text, {})
    assert message in str(raised.value)
