"""Exact guarantees across API processes on one PostgreSQL database.

Two ``openlinq serve`` processes (API only) share a database, as two hosts behind a load
balancer do. Requests race on purpose: each burst starts at one barrier and alternates
between the two processes, so only the database can keep the counts exact.
(Two workers sharing the job queue: ``test_multiprocess.py`` and ``test_scale_out_jobs.py``.)
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import linq
import pytest
from linq import LinqAPIV3
from typer.testing import CliRunner

from openlinq.cli import app as cli_app
from tests.support.postgres import fresh_postgres_database
from tests.support.processes import OpenlinqProcess

PAIR_LIMIT = 5  # messages a minute per line and recipient, set for the account by the operator
LINE = "+14155550190"
TEXT: Any = {"parts": [{"type": "text", "value": "hello"}]}
T = TypeVar("T")


@dataclass
class TwoApiProcesses:
    servers: list[OpenlinqProcess]
    api_key: str

    def client(self, n: int) -> LinqAPIV3:
        """The official SDK on the ``n % 2``-th process."""
        server = self.servers[n % 2]
        return LinqAPIV3(
            base_url=f"{server.base_url}/api/partner", api_key=self.api_key, max_retries=0
        )


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def two(
    backend: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwoApiProcesses]:
    if backend != "postgres":
        pytest.skip("several API processes need PostgreSQL (SQLite is served by one)")
    data: Path = tmp_path_factory.mktemp("scale-out")
    with fresh_postgres_database(database_url) as url:
        # The operator sets the account up before the servers start, so neither has a
        # cached view of its policy (a process trusts a key lookup for 5 s).
        args = ["--data-dir", str(data), "--database-url", url]
        _cli("migrate", *args)
        account = json.loads(_cli("accounts", "create", "scale-out", "--json", *args))
        _cli("lines", "add", account["id"], LINE, *args)
        _cli("accounts", "policy", account["id"], "--pair-limit", str(PAIR_LIMIT), *args)
        servers = [
            OpenlinqProcess("serve", data / f"api{n}", database_url=url, run_worker="false")
            for n in range(2)
        ]
        try:
            for server in servers:  # one after the other: each start is CPU-bound
                server.start(start_seconds=90)
            yield TwoApiProcesses(servers, account["api_key"])
        finally:
            for server in servers:
                server.stop()


def _race(count: int, request: Callable[[int], T]) -> list[T | Exception]:
    """``request(n)`` for n in 0..count-1 from as many threads, released at one moment."""
    start = threading.Barrier(count)

    def run(n: int) -> T | Exception:
        start.wait(timeout=30)
        try:
            return request(n)
        except Exception as error:  # an answer the caller checks, not a crash of the test
            return error

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _open_chat(two: TwoApiProcesses, recipient: str) -> str:
    with two.client(0) as client:
        return client.chats.create(from_=LINE, to=[recipient], message=TEXT).chat.id


def test_the_pair_limit_is_exact_across_api_processes(two: TwoApiProcesses) -> None:
    chat_id = _open_chat(two, "+14155550301")  # the first message counts too

    def send(n: int) -> str:
        with two.client(n) as client:
            return client.chats.messages.send(chat_id, message=TEXT).message.id

    outcomes = _race(2 * PAIR_LIMIT, send)
    accepted = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if not isinstance(o, str)]
    assert len(accepted) == PAIR_LIMIT - 1, outcomes
    assert all(isinstance(r, linq.RateLimitError) and r.code == 1007 for r in refused), refused
    with two.client(1) as client:
        assert len(client.chats.messages.list(chat_id).messages) == PAIR_LIMIT


def test_one_idempotency_key_sent_to_both_processes_at_once_makes_one_message(
    two: TwoApiProcesses,
) -> None:
    chat_id = _open_chat(two, "+14155550302")
    body: Any = {**TEXT, "idempotency_key": "scale-out-once"}

    def send(n: int) -> str:
        with two.client(n) as client:
            return client.chats.messages.send(chat_id, message=body).message.id

    outcomes = _race(8, send)
    assert all(isinstance(o, str) for o in outcomes), outcomes
    assert len(set(outcomes)) == 1
    with two.client(0) as client:
        assert len(client.chats.messages.list(chat_id).messages) == 2


def test_first_messages_to_one_recipient_from_both_processes_open_one_chat(
    two: TwoApiProcesses,
) -> None:
    def open_chat(n: int) -> str:
        with two.client(n) as client:
            return client.chats.create(from_=LINE, to=["+14155550303"], message=TEXT).chat.id

    outcomes = _race(PAIR_LIMIT - 1, open_chat)  # each is a message: all within the limit
    assert all(isinstance(o, str) for o in outcomes), outcomes
    assert Counter(outcomes).most_common() == [(outcomes[0], PAIR_LIMIT - 1)]
