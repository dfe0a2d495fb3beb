"""Contract-test fixtures: the TypeScript SDK, a second account."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import RunningServer
from tests.support.tenant import Tenant, tenant_on

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


@pytest.fixture
def other_tenant(server: RunningServer) -> Iterator[Tenant]:
    """A second account on the same server (isolation checks)."""
    with tenant_on(server) as created:
        yield created
