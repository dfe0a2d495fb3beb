"""Files that hold secrets or messages are this user's alone, whatever the umask.

The SQLite database (and its WAL and shared-memory files) holds the server secret,
webhook signing secrets and every message; attachments are users' files. Directories
openlinq creates are 0700 and its files 0600. A directory that already exists is left
as it is: it may be shared (``/tmp``) or chosen by the operator.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# SQLite creates these beside a database, with the database file's permissions.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700 (``mkdir``'s mode obeys the umask)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        os.chmod(directory, PRIVATE_DIR)


def open_private(path: Path) -> BinaryIO:
    """Open ``path`` for writing (truncated), created or made 0600 before a byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return os.fdopen(fd, "wb")


def prepare_sqlite_file(database: Path) -> None:
    """Create the database file 0600 before SQLite does (SQLite would use 0644), and make
    an existing one and its side files 0600; new side files then inherit 0600."""
    make_private_dir(database.parent)
    if not database.exists():
        open_private(database).close()  # an empty file is an empty SQLite database
    for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_SIDE_FILES)):
        if path.exists():
            os.chmod(path, PRIVATE_FILE)
