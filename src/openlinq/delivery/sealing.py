"""Sealing carrier secrets with a key that never enters the database.

A copy of the database (a backup, a replica, a support dump) then holds no usable
gateway password. The key is ``OPENLINQ_CARRIER_KEY`` (a Fernet key: every process of a
deployment must get the same one) or, without it, ``<data_dir>/carrier.key``, made
(mode 0600) the first time a secret is sealed: opening sealed settings never makes one.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

KEY_FILE = "carrier.key"


class SealError(Exception):
    """Sealed data that this key cannot open (another key, or altered)."""


class SecretBox:
    def __init__(self, key: str | None, data_dir: Path) -> None:
        self._key = key
        self._path = data_dir / KEY_FILE
        self._fernet: Any = None

    def fernet(self, *, create: bool = False) -> Any:
        """The key's Fernet; ``create``: make the key file first if there is none (sealing
        only: opening with no key says so, rather than making a key nothing was sealed with)."""
        if self._fernet is None:
            # Imported on first use: a server without real carriers never loads it.
            from cryptography.fernet import Fernet

            if self._key:
                key, origin = self._key.encode(), "OPENLINQ_CARRIER_KEY"
            else:
                key, origin = _key_file(self._path, create=create), str(self._path)
            try:
                self._fernet = Fernet(key)
            except (ValueError, TypeError):
                raise SealError(
                    f"{origin} is not a Fernet key (32 url-safe base64-encoded bytes: "
                    "see docs/gateways.md, Where secrets live)"
                ) from None
        return self._fernet

    def seal(self, data: dict[str, Any]) -> str:
        token: bytes = self.fernet(create=True).encrypt(json.dumps(data, sort_keys=True).encode())
        return token.decode()

    def open(self, sealed: str) -> dict[str, Any]:
        from cryptography.fernet import InvalidToken

        try:
            data: dict[str, Any] = json.loads(self.fernet().decrypt(sealed.encode()))
        except InvalidToken:
            raise SealError(
                "carrier settings cannot be decrypted: OPENLINQ_CARRIER_KEY (or "
                f"{self._path}) is not the key they were sealed with"
            ) from None
        return data


def _key_file(path: Path, *, create: bool) -> bytes:
    """The key in ``path``, made there first if absent and ``create`` (by exactly one process)."""
    from cryptography.fernet import Fernet

    if not path.exists():
        if not create:
            raise SealError(
                f"no carrier key: set OPENLINQ_CARRIER_KEY or run from the data dir that "
                f"holds {KEY_FILE} ({path} does not exist)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{KEY_FILE}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(Fernet.generate_key())
        # link() fails if another process won the race: its key is then the key.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_bytes().strip()
