"""A real HTTP webhook receiver for tests, with scripted answers.

It runs a threading HTTP server on a loopback port, records every request, and
answers from a script (status, headers, an optional delay before answering),
falling back to 200. ``stop()``/``start()`` take it down and bring it back on
the same port, for the "endpoint is down, then comes back" case.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.server import free_port


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds of real time before answering (to outlast a timeout)
    body: bytes = b'{"ok":true}'
    drip: float = 0.0  # seconds of real time between the body's bytes (a slow peer)


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.hits: list[Hit] = []
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._script.popleft() if self._script else Answer()

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (the crash tests kill it): a real server
                    # discards a truncated request, and so does this one.
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._record(Hit(self.path, headers, body, time.monotonic()))
                answer = receiver._next_answer()
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    if answer.drip:
                        for byte in answer.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(answer.drip)
                    else:
                        self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): that is the point of a delay

            def log_message(self, *_: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            hits = list(self.hits)
        return [h.event for h in hits if event_type is None or h.event["event_type"] == event_type]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Hit]:
        """Wait (real time, bounded) until ``count`` requests arrived: for real-clock tests."""
        deadline = time.monotonic() + timeout
        while len(self.hits) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.hits)} of {count} webhooks arrived in {timeout} s")
            time.sleep(0.02)
        return list(self.hits)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
