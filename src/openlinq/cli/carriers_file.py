"""The carriers file: which carrier each line sends through, declared in TOML.

For deployments kept as files (``openlinq lines apply carriers.toml`` in a deploy script)::

    [[line]]
    account = "acct_..."
    phone_number = "+14155550100"
    carrier = "bluebubbles"
    settings = { url = "https://mac.example.net", password = { env = "BLUEBUBBLES_PASSWORD" } }

A setting written ``{ env = "NAME" }`` is read from the environment, so the file holds no
secret and can be committed; the value is sealed into the database like one typed at the CLI.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class CarriersFileError(ValueError):
    """The file cannot be applied; the message names the entry and what is wrong."""


@dataclass(frozen=True, slots=True)
class DeclaredCarrier:
    account: str
    phone_number: str
    carrier: str
    settings: dict[str, Any]


def parse_carriers_file(
    text: str, environ: Mapping[str, str] = os.environ
) -> list[DeclaredCarrier]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CarriersFileError(f"not TOML: {error}") from None
    unknown = set(document) - {"line"}
    if unknown:
        raise CarriersFileError(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    entries = document.get("line", [])
    if not isinstance(entries, list):
        raise CarriersFileError("declare each line as a [[line]] table")
    declared = [_entry(number, entry, environ) for number, entry in enumerate(entries, 1)]
    numbers = [entry.phone_number for entry in declared]
    twice = sorted({n for n in numbers if numbers.count(n) > 1})
    if twice:
        raise CarriersFileError(f"declared more than once: {', '.join(twice)}")
    return declared


def _entry(number: int, entry: object, environ: Mapping[str, str]) -> DeclaredCarrier:
    # "entry": a [[line]] table's place in the file (not a line number of the file).
    where = f"entry {number}"
    if not isinstance(entry, dict):
        raise CarriersFileError(f"{where}: not a table")
    unknown = set(entry) - {"account", "phone_number", "carrier", "settings"}
    if unknown:
        raise CarriersFileError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    fields: dict[str, str] = {}
    for key in ("account", "phone_number", "carrier"):
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            raise CarriersFileError(f"{where}: {key} must be a non-empty string")
        fields[key] = value
    settings = entry.get("settings", {})
    if not isinstance(settings, dict):
        raise CarriersFileError(f"{where}: settings must be a table")
    resolved = {key: _value(f"{where}: {key}", value, environ) for key, value in settings.items()}
    return DeclaredCarrier(settings=resolved, **fields)


def _value(where: str, value: object, environ: Mapping[str, str]) -> object:
    if not isinstance(value, dict):
        return value
    name = value.get("env")
    if set(value) != {"env"} or not isinstance(name, str):
        raise CarriersFileError(f'{where}: a table value must be {{ env = "NAME" }}')
    if name not in environ:
        raise CarriersFileError(f"{where}: the environment has no {name}")
    return environ[name]
