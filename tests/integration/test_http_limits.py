"""Connection limits of ``openlinq serve`` (``serving.py``), against a real server process
over raw sockets: a request head has a deadline, idle keep-alive connections close, and
past the connection limit a request gets the Linq 503 body. The database plays no part, so
the server runs on SQLite of its own whichever backend the session tests."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.support.processes import OpenlinqProcess

KEY = "olq_http_limits_test_key_0123456789abcdef"
MAX_CONNECTIONS = 4


@pytest.fixture(scope="module")
def server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenlinqProcess]:
    process = OpenlinqProcess(
        "serve",
        tmp_path_factory.mktemp("data"),
        dev_api_key=KEY,
        run_worker="false",
        header_timeout_seconds="1",
        keep_alive_seconds="1",
        max_connections=str(MAX_CONNECTIONS),
    ).start()
    try:
        yield process
    finally:
        process.stop()


def _connect(process: OpenlinqProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", process.port), timeout=10)
    sock.settimeout(10)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (reading whatever it sends first)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65_536):
            pass
    except TimeoutError:
        raise AssertionError(f"the connection was still open after {seconds} s") from None
    return time.monotonic() - started


def test_a_connection_that_sends_nothing_is_closed(server_process: OpenlinqProcess) -> None:
    with _connect(server_process) as sock:
        assert _closed_within(sock, 5) < 5


def _drip_until_closed(sock: socket.socket, lines: int, interval: float) -> float | None:
    """Send a header line every ``interval`` s; seconds until the server closed, or None."""
    started = time.monotonic()
    for _ in range(lines):
        try:
            sock.sendall(b"X-Drip: 1\r\n")
            time.sleep(interval)
            sock.settimeout(0.01)
            if sock.recv(1) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue  # still open, nothing to read
        except OSError:  # reset under us
            return time.monotonic() - started
    return None


def test_a_request_head_dripped_slowly_is_cut_off(server_process: OpenlinqProcess) -> None:
    with _connect(server_process) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        # Every line arrives well within any per-read timeout; the head never completes.
        closed_after = _drip_until_closed(sock, lines=40, interval=0.2)
        assert closed_after is not None, "the connection was still open after 8 s"
        assert closed_after < 5


def test_a_slow_head_after_a_keep_alive_request_is_cut_off_too(
    server_process: OpenlinqProcess,
) -> None:
    with _connect(server_process) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65_536).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /health HTTP/1.1\r\n")  # the next head begins and stalls
        assert _closed_within(sock, 5) < 5


def test_an_idle_keep_alive_connection_is_closed(server_process: OpenlinqProcess) -> None:
    with _connect(server_process) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65_536).startswith(b"HTTP/1.1 200")
        assert _closed_within(sock, 5) < 5


def test_past_the_connection_limit_a_request_gets_the_linq_503(
    server_process: OpenlinqProcess,
) -> None:
    with ExitStack() as held:
        for _ in range(MAX_CONNECTIONS):
            held.enter_context(_connect(server_process))
        time.sleep(0.2)  # the server has accepted them
        response = httpx.get(f"{server_process.base_url}/health", timeout=10)
        assert response.status_code == 503, response.text
        body = json.loads(response.content)
        assert body["success"] is False
        assert (body["error"]["status"], body["error"]["code"]) == (503, 3001)
        assert response.headers["retry-after"] == "1"
    # The held connections are gone: the server answers again.
    deadline = time.monotonic() + 5
    while httpx.get(f"{server_process.base_url}/health", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the server stayed at its limit"
        time.sleep(0.05)
