from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.console import ConsoleClient
from tests.support.server import RunningServer
from tests.support.tenant import Tenant


@pytest.fixture
def console(server: RunningServer, tenant: Tenant) -> Iterator[ConsoleClient]:
    """The console showing the test's own account."""
    client = ConsoleClient(server, tenant.account_id)
    yield client
    client.close()
