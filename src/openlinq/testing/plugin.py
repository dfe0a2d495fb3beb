"""openlinq's pytest plugin: test an agent against a real openlinq, deterministically.

Registered through the ``pytest11`` entry point, so installing openlinq is enough.
Fixtures:

- ``openlinq_server`` (session): an in-process openlinq (real HTTP on a loopback port,
  SQLite in a temporary directory, manual clock), or the external one named by
  ``--openlinq-url`` (with ``--openlinq-operator-key`` for a hosted one). Under
  pytest-xdist each worker is its own session, so each has its own server.
- ``openlinq_account``: a fresh account (own key, own lines) per test.
- ``linq``: the official ``LinqAPIV3`` client for that account; ``linq_env``: the
  ``LINQ_API_V3_BASE_URL`` / ``LINQ_API_V3_API_KEY`` values, for agents that build
  their own client (or run as a subprocess).
- ``sim``: simulated phones, the clock, ``settle`` and ``wait_for_message``.
- ``webhook_sink``: the account's webhooks, verified and recorded, optionally forwarded
  to the agent (an ASGI app served in-process, or a URL).

A failing test that used ``sim`` shows every phone's conversation in its report.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from openlinq.testing.server import ServerInfo, in_process_server
from openlinq.testing.sim import Sim, TestAccountInfo, create_test_account, http_client
from openlinq.testing.sink import WebhookSink, running_sink

if TYPE_CHECKING:
    from linq import LinqAPIV3


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("openlinq", "openlinq test harness")
    group.addoption(
        "--openlinq-url",
        default=os.environ.get("OPENLINQ_TEST_URL"),
        help="test against this openlinq (e.g. http://127.0.0.1:8080) instead of an "
        "in-process one [env OPENLINQ_TEST_URL]",
    )
    group.addoption(
        "--openlinq-operator-key",
        default=os.environ.get("OPENLINQ_TEST_OPERATOR_KEY"),
        help="the operator key of a hosted --openlinq-url [env OPENLINQ_TEST_OPERATOR_KEY]",
    )


@pytest.fixture(scope="session")
def openlinq_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerInfo]:
    """The openlinq the tests talk to (in-process unless --openlinq-url)."""
    url = request.config.getoption("--openlinq-url")
    key = request.config.getoption("--openlinq-operator-key")
    if url:
        yield ServerInfo(str(url).rstrip("/"), key)
        return
    with in_process_server(tmp_path_factory.mktemp("openlinq"), operator_api_key=key) as info:
        yield info


@pytest.fixture
def openlinq_account(openlinq_server: ServerInfo) -> TestAccountInfo:
    """A fresh account for this test: its own API key and two iMessage lines."""
    return create_test_account(openlinq_server.base_url, operator_key=openlinq_server.operator_key)


@pytest.fixture
def linq(openlinq_account: TestAccountInfo) -> Iterator[LinqAPIV3]:
    """The official Python SDK's client, configured for the test's account."""
    try:
        from linq import LinqAPIV3
    except ImportError:  # pragma: no cover - depends on the user's environment
        pytest.fail("the linq fixture needs the official SDK: pip install linq-python")
    client = LinqAPIV3(
        api_key=openlinq_account.api_key,
        base_url=openlinq_account.base_url,
        max_retries=0,
        http_client=http_client(),
    )
    with client:
        yield client


@pytest.fixture
def linq_env(openlinq_account: TestAccountInfo) -> dict[str, str]:
    """``LINQ_API_V3_BASE_URL`` and ``LINQ_API_V3_API_KEY`` for the test's account."""
    return openlinq_account.env


@pytest.fixture
def sim(openlinq_server: ServerInfo, openlinq_account: TestAccountInfo) -> Iterator[Sim]:
    """Simulated phones writing to the test's account, and the clock."""
    simulator = Sim(openlinq_server.base_url, openlinq_account, openlinq_server.operator_key)
    try:
        yield simulator
    finally:
        simulator.close()


@pytest.fixture
def webhook_sink(
    openlinq_server: ServerInfo, openlinq_account: TestAccountInfo
) -> Iterator[WebhookSink]:
    """The account's webhooks, verified with the SDK and recorded; ``.forward_to(app)``
    hands them to the agent."""
    yield from running_sink(openlinq_server.base_url, openlinq_account)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.failed and call.when == "call":
        simulator = getattr(item, "funcargs", {}).get("sim")
        if isinstance(simulator, Sim) and simulator.phones:
            report.sections.append(("openlinq conversations", simulator.transcript()))
    return report
