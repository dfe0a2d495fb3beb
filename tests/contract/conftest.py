"""Contract-test fixtures shared by the TypeScript SDK tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SDK = "@linqapp/sdk@0.28.2"


@pytest.fixture(scope="session")
def sdk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official TypeScript SDK, installed once per session with Node's own npm
    (npm's cache makes repeat installs quick)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("Node.js and npm are needed for the TypeScript SDK tests")
    directory = tmp_path_factory.mktemp("ts-sdk")
    subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(directory), SDK],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return directory
